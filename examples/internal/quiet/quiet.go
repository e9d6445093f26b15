// Package quiet silences the process-wide loggers of the libraries converge
// builds on (klog for client-go, controller-runtime's, the standard
// library's, which kustomize warns through), for programs that say what
// matters themselves. Only main packages call it: the loggers belong to the
// host.
package quiet

import (
	"io"
	"log"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Loggers discards what those loggers would print.
func Loggers() {
	klog.SetLogger(logr.Discard())
	ctrllog.SetLogger(logr.Discard())
	log.SetOutput(io.Discard)
}
