package sealed

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubeseal's defaults for --controller-namespace and --controller-name.
const (
	DefaultControllerNamespace = "kube-system"
	DefaultControllerName      = "sealed-secrets-controller"
)

// FetchCertificate returns the public key the controller seals with, as
// kubeseal --fetch-cert gets it: GET /v1/cert.pem from the controller's
// Service controllerName in namespace, through the API server's service
// proxy (on the Service's first port, by name). If that fails (no
// Service, or the proxy is forbidden) it falls back to reading the
// controller's newest active sealing key Secret (label [KeyLabel]=active
// in namespace) and its tls.crt, which needs permission to list Secrets
// there. Empty namespace and controllerName mean kubeseal's defaults,
// kube-system and sealed-secrets-controller. (The gitops-patterns example
// installs the controller as sealed-secrets in flux-system, for which
// kubeseal takes --controller-name sealed-secrets --controller-namespace
// flux-system.)
func FetchCertificate(ctx context.Context, client kubernetes.Interface, namespace, controllerName string) (*rsa.PublicKey, error) {
	if namespace == "" {
		namespace = DefaultControllerNamespace
	}
	if controllerName == "" {
		controllerName = DefaultControllerName
	}
	ref := namespace + "/" + controllerName
	pub, proxyErr := fetchFromService(ctx, client, namespace, controllerName)
	if proxyErr == nil {
		return pub, nil
	}
	pub, keyErr := fetchFromKeySecret(ctx, client, namespace)
	if keyErr == nil {
		return pub, nil
	}
	return nil, fmt.Errorf("fetch the sealing certificate of controller %s: %w", ref,
		errors.Join(fmt.Errorf("from its service: %w", proxyErr), fmt.Errorf("from its key Secrets: %w", keyErr)))
}

func fetchFromService(ctx context.Context, client kubernetes.Interface, namespace, name string) (*rsa.PublicKey, error) {
	svc, err := client.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if len(svc.Spec.Ports) == 0 {
		return nil, fmt.Errorf("service %s/%s has no ports", namespace, name)
	}
	body, err := client.CoreV1().Services(namespace).ProxyGet("http", name, svc.Spec.Ports[0].Name, "/v1/cert.pem", nil).DoRaw(ctx)
	if err != nil {
		var se *apierrors.StatusError
		if errors.As(err, &se) && se.ErrStatus.Message != "" && !strings.Contains(err.Error(), se.ErrStatus.Message) {
			return nil, fmt.Errorf("GET /v1/cert.pem through the service proxy: %w (%s)", err, se.ErrStatus.Message)
		}
		return nil, fmt.Errorf("GET /v1/cert.pem through the service proxy: %w", err)
	}
	return ParsePublicKey(body)
}

func fetchFromKeySecret(ctx context.Context, client kubernetes.Interface, namespace string) (*rsa.PublicKey, error) {
	list, err := client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: KeyLabel + "=active"})
	if err != nil {
		return nil, err
	}
	var newest *x509.Certificate
	for _, s := range list.Items {
		rest := s.Data["tls.crt"]
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				continue
			}
			if _, ok := cert.PublicKey.(*rsa.PublicKey); ok && (newest == nil || cert.NotBefore.After(newest.NotBefore)) {
				newest = cert
			}
			break // the controller reads the first certificate of each
		}
	}
	if newest == nil {
		return nil, fmt.Errorf("no Secret labelled %s=active with an RSA certificate in namespace %s", KeyLabel, namespace)
	}
	return ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newest.Raw}))
}
