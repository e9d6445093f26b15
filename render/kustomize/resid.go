package kustomize

import (
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/converge-dev/converge/render"
)

func resIDOf(s *render.Selector) resid.ResId {
	return resid.ResId{
		Gvk:       resid.Gvk{Group: s.Group, Version: s.Version, Kind: s.Kind},
		Name:      s.Name,
		Namespace: s.Namespace,
	}
}
