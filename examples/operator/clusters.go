package operator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/converge-dev/converge/cluster"
	"github.com/converge-dev/converge/reconcile"

	"github.com/converge-dev/converge/examples/operator/api/v1alpha1"
)

// The two ways a Secret registers a destination cluster.
const (
	// ClusterLabel marks a Secret holding a kubeconfig under
	// [KubeconfigKey]; the label's value is the cluster's name (the
	// Secret's name when empty). The kubeconfig's current context is the
	// one used.
	ClusterLabel = "converge.dev/cluster"
	// KubeconfigKey is the key of the kubeconfig in a ClusterLabel Secret.
	KubeconfigKey = "kubeconfig"
	// ArgoCDSecretTypeLabel set to "cluster" marks an Argo CD cluster
	// Secret: keys name, server and config (JSON).
	ArgoCDSecretTypeLabel = "argocd.argoproj.io/secret-type"
)

// Reasons of an Application whose destination cluster cannot be used. It
// is Stalled until a Secret registers the cluster or mends its entry (the
// controller watches the cluster Secrets).
const (
	ReasonClusterNotRegistered = "ClusterNotRegistered"
	ReasonClusterSecretInvalid = "ClusterSecretInvalid"
)

// ErrClusterNotRegistered: no Secret registers the destination cluster an
// Application names.
var ErrClusterNotRegistered = errors.New("the destination cluster is not registered")

// ClusterSecretError is a cluster Secret that cannot be used. It names the
// Secret and the field, and never holds a value of the Secret.
type ClusterSecretError struct {
	Secret types.NamespacedName
	// Field is the key of the Secret's data, and within the config a
	// field path: "data.config: tlsClientConfig.caData".
	Field  string
	Reason string
}

func (e *ClusterSecretError) Error() string {
	return fmt.Sprintf("cluster Secret %s: %s: %s", e.Secret, e.Field, e.Reason)
}

// Registration is a destination cluster as a Secret registers it.
type Registration struct {
	// Name is what Applications name it by; Server, its API server's URL,
	// names it too.
	Name, Server string
	// Secret is the Secret it was read from.
	Secret types.NamespacedName
	// Config reaches its API server. It reads no file and runs no
	// program.
	Config *rest.Config
}

// Clusters is the registry of destination clusters: the Secrets of one
// namespace labelled [ClusterLabel] or Argo CD's cluster Secrets. It
// implements reconcile.ClusterResolver, so the engine keeps one client
// and one watch cache per cluster, shared by every Application on it; when
// a cluster's Secret changes, the controller tells the engine to forget
// the cluster, and the next pass reads the Secret again. It is safe for
// concurrent use.
type Clusters struct {
	// Reader reads the Secrets (the manager's cached client: a lookup
	// costs no request).
	Reader client.Reader
	// Namespace holds the cluster Secrets; Secrets of other namespaces
	// register nothing, so that a tenant who may write Secrets in its own
	// namespace cannot point the operator at a cluster of its choosing.
	Namespace string
}

var _ reconcile.ClusterResolver = (*Clusters)(nil)

// Cluster returns a client of the cluster named name ([Clusters.Lookup]).
func (c *Clusters) Cluster(ctx context.Context, name string) (*cluster.Client, error) {
	reg, err := c.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	cl, err := cluster.New(reg.Config)
	if err != nil {
		return nil, &ClusterSecretError{Secret: reg.Secret, Field: "data", Reason: "no client can be built from it: " + err.Error()}
	}
	return cl, nil
}

// Lookup returns the registration of the cluster a destination names: by
// its name, or by its API server's URL. A name no Secret registers is
// ErrClusterNotRegistered; a name two Secrets register, or a Secret that
// cannot be used, is a *ClusterSecretError.
func (c *Clusters) Lookup(ctx context.Context, name string) (*Registration, error) {
	secrets, err := c.secrets(ctx)
	if err != nil {
		return nil, err
	}
	var found []*corev1.Secret
	for _, s := range secrets {
		if slices.Contains(clusterNames(s), normalServer(name)) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no Secret of namespace %s labelled %s=%s, nor an Argo CD cluster Secret (%s=cluster) with that name or server",
			ErrClusterNotRegistered, c.Namespace, ClusterLabel, truncate(name, 64), ArgoCDSecretTypeLabel)
	case 1:
		return ParseClusterSecret(found[0])
	}
	return nil, &ClusterSecretError{Secret: client.ObjectKeyFromObject(found[0]), Field: "metadata",
		Reason: fmt.Sprintf("Secret %s registers cluster %q too; delete one of them", found[1].Name, truncate(name, 64))}
}

// secrets lists the cluster Secrets of the registry's namespace, in name
// order.
func (c *Clusters) secrets(ctx context.Context) ([]*corev1.Secret, error) {
	var own, argo corev1.SecretList
	if err := c.Reader.List(ctx, &own, client.InNamespace(c.Namespace), client.HasLabels{ClusterLabel}); err != nil {
		return nil, fmt.Errorf("list the cluster Secrets of namespace %s: %w", c.Namespace, err)
	}
	if err := c.Reader.List(ctx, &argo, client.InNamespace(c.Namespace), client.MatchingLabels{ArgoCDSecretTypeLabel: "cluster"}); err != nil {
		return nil, fmt.Errorf("list the Argo CD cluster Secrets of namespace %s: %w", c.Namespace, err)
	}
	var out []*corev1.Secret
	seen := map[string]bool{}
	for _, l := range []*corev1.SecretList{&own, &argo} {
		for i := range l.Items {
			if s := &l.Items[i]; !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// registers reports whether s is a cluster Secret of the registry.
func (c *Clusters) registers(s *corev1.Secret) bool {
	return c != nil && s.Namespace == c.Namespace && secretFormat(s) != ""
}

func secretFormat(s *corev1.Secret) string {
	if _, ok := s.Labels[ClusterLabel]; ok {
		return ClusterLabel
	}
	if s.Labels[ArgoCDSecretTypeLabel] == "cluster" {
		return ArgoCDSecretTypeLabel
	}
	return ""
}

// clusterNames are the names a cluster Secret is meant to register,
// read without parsing its credentials, so that a Secret that cannot be
// used still says which cluster it is for.
func clusterNames(s *corev1.Secret) []string {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch secretFormat(s) {
	case ClusterLabel:
		add(cmpOr(s.Labels[ClusterLabel], s.Name))
		if cfg, err := clientcmd.Load(s.Data[KubeconfigKey]); err == nil {
			if kc := cfg.Contexts[currentContext(cfg.CurrentContext, len(cfg.Contexts), cfg.Contexts)]; kc != nil && cfg.Clusters[kc.Cluster] != nil {
				add(normalServer(cfg.Clusters[kc.Cluster].Server))
			}
		}
	case ArgoCDSecretTypeLabel:
		add(string(s.Data["name"]))
		add(normalServer(string(s.Data["server"])))
	}
	return names
}

// currentContext is the context a kubeconfig uses: its current-context,
// or its only one.
func currentContext[T any](current string, n int, contexts map[string]T) string {
	if current != "" || n != 1 {
		return current
	}
	for name := range contexts {
		return name
	}
	return ""
}

// normalServer drops a trailing slash, so that a destination naming
// "https://host:6443/" finds the Secret of "https://host:6443".
func normalServer(s string) string {
	if strings.Contains(s, "://") {
		return strings.TrimRight(s, "/")
	}
	return s
}

// ParseClusterSecret reads a cluster Secret of either format. It reads no
// file, runs no program, and its errors (a *ClusterSecretError) name the
// field and never hold a value.
func ParseClusterSecret(s *corev1.Secret) (*Registration, error) {
	key := client.ObjectKeyFromObject(s)
	bad := func(field, reason string) error {
		return &ClusterSecretError{Secret: key, Field: field, Reason: reason}
	}
	switch {
	case secretFormat(s) == "":
		return nil, bad("metadata.labels", fmt.Sprintf("it has neither the label %s nor %s=cluster", ClusterLabel, ArgoCDSecretTypeLabel))
	case s.Labels[ArgoCDSecretTypeLabel] == "cluster" && secretFormat(s) == ClusterLabel:
		return nil, bad("metadata.labels", fmt.Sprintf("it has both %s and %s=cluster: use one format", ClusterLabel, ArgoCDSecretTypeLabel))
	case secretFormat(s) == ClusterLabel:
		return parseKubeconfigSecret(s, bad)
	}
	return parseArgoCDSecret(s, bad)
}

func parseKubeconfigSecret(s *corev1.Secret, bad func(field, reason string) error) (*Registration, error) {
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		if k != KubeconfigKey {
			return nil, bad("data."+truncate(k, 64), "not understood: a "+ClusterLabel+" Secret holds only "+KubeconfigKey)
		}
	}
	raw, ok := s.Data[KubeconfigKey]
	if !ok || len(raw) == 0 {
		return nil, bad("data."+KubeconfigKey, "missing or empty")
	}
	cfg, server, field, reason := kubeconfig(raw)
	if reason != "" {
		return nil, bad("data."+KubeconfigKey+field, reason)
	}
	return &Registration{Name: cmpOr(s.Labels[ClusterLabel], s.Name), Server: server, Secret: client.ObjectKeyFromObject(s), Config: cfg}, nil
}

// kubeconfig reads a kubeconfig's current context into a rest.Config.
// Files and programs it names are refused: the operator would read its
// own files (its service account's token among them) or run a program
// on a Secret's say. The parser's own messages are not passed on, as they
// may quote the input.
func kubeconfig(raw []byte) (cfg *rest.Config, server, field, reason string) {
	kc, err := clientcmd.Load(raw)
	if err != nil {
		return nil, "", "", "not a kubeconfig (it does not parse as one)"
	}
	name := currentContext(kc.CurrentContext, len(kc.Contexts), kc.Contexts)
	if name == "" {
		return nil, "", "", fmt.Sprintf("no current-context, and %d contexts to choose from", len(kc.Contexts))
	}
	ctx := kc.Contexts[name]
	if ctx == nil {
		return nil, "", ": current-context", fmt.Sprintf("context %q is not among its contexts", truncate(name, 64))
	}
	cl := kc.Clusters[ctx.Cluster]
	if cl == nil {
		return nil, "", ": contexts." + truncate(name, 64), fmt.Sprintf("cluster %q is not among its clusters", truncate(ctx.Cluster, 64))
	}
	where := ": clusters." + truncate(ctx.Cluster, 64)
	if reason := serverURL(cl.Server); reason != "" {
		return nil, "", where + ".server", reason
	}
	if cl.CertificateAuthority != "" {
		return nil, "", where + ".certificate-authority", "a file is refused: put the certificate in certificate-authority-data"
	}
	if ctx.AuthInfo != "" {
		u := kc.AuthInfos[ctx.AuthInfo]
		if u == nil {
			return nil, "", ": contexts." + truncate(name, 64), fmt.Sprintf("user %q is not among its users", truncate(ctx.AuthInfo, 64))
		}
		where := ": users." + truncate(ctx.AuthInfo, 64)
		switch {
		case u.ClientCertificate != "":
			return nil, "", where + ".client-certificate", "a file is refused: put the certificate in client-certificate-data"
		case u.ClientKey != "":
			return nil, "", where + ".client-key", "a file is refused: put the key in client-key-data"
		case u.TokenFile != "":
			return nil, "", where + ".tokenFile", "a file is refused: put the token in token"
		case u.Exec != nil:
			return nil, "", where + ".exec", "refused: it would run a program in the operator; use a token or a client certificate"
		case u.AuthProvider != nil:
			return nil, "", where + ".auth-provider", "refused: auth providers are not supported; use a token or a client certificate"
		}
	}
	cfg, err = clientcmd.NewNonInteractiveClientConfig(*kc, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, "", "", "not a usable kubeconfig (client-go cannot build a client configuration from it)"
	}
	if f, reason := checkTLS(cfg); reason != "" {
		return nil, "", where + f, reason
	}
	return cfg, normalServer(cl.Server), "", ""
}

// serverURL says why s is not an API server URL, or "".
func serverURL(s string) string {
	if s == "" {
		return "missing: the API server's URL"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "not an http or https URL with a host (and no user in it)"
	}
	return ""
}

// checkTLS loads the certificates of cfg, so that a bad one is named now,
// not found on every request. The TLS library's messages quote nothing
// of the input.
func checkTLS(cfg *rest.Config) (field, reason string) {
	if len(cfg.CAData) > 0 && !x509.NewCertPool().AppendCertsFromPEM(cfg.CAData) {
		return ".caData", "holds no PEM certificate"
	}
	switch {
	case len(cfg.CertData) > 0 && len(cfg.KeyData) == 0:
		return ".keyData", "missing: certData needs its key"
	case len(cfg.KeyData) > 0 && len(cfg.CertData) == 0:
		return ".certData", "missing: keyData needs its certificate"
	case len(cfg.CertData) > 0:
		if _, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData); err != nil {
			return ".certData", "certData and keyData are not a PEM certificate and its key: " + err.Error()
		}
	}
	return "", ""
}

// setClusterUnavailable makes a pass whose destination cluster is not
// registered, or whose Secret cannot be used, Stalled: retrying cannot
// help until a cluster Secret changes, and the controller runs the
// cluster's Applications again when one does. Other passes are left as
// they are.
func setClusterUnavailable(st *v1alpha1.ApplicationStatus, s reconcile.Status) {
	reason := ""
	switch {
	case errors.Is(s.Err, ErrClusterNotRegistered):
		reason = ReasonClusterNotRegistered
	case errors.As(s.Err, new(*ClusterSecretError)):
		reason = ReasonClusterSecretInvalid
	default:
		return
	}
	msg := truncate(s.Err.Error(), 1024)
	if c := s.Condition(v1alpha1.ConditionReady); c != nil && c.Message != "" {
		msg = c.Message
	}
	for _, c := range []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: msg},
		{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, Message: msg},
		{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionFalse, Reason: reason, Message: msg},
	} {
		c.ObservedGeneration = s.ObservedGeneration
		setCondition(&st.Conditions, c)
	}
}

// clusterSecretApplications returns the Applications whose destination a
// cluster Secret names, and makes the engine forget those clusters first,
// so that their next pass reads the Secret again. The controller calls it
// for the Secret before and after each change.
func (r *ApplicationReconciler) clusterSecretApplications(ctx context.Context, obj client.Object) []crreconcile.Request {
	s, ok := obj.(*corev1.Secret)
	if !ok || !r.Clusters.registers(s) {
		return nil
	}
	names := clusterNames(s)
	for _, n := range names {
		r.Engine.ForgetCluster(n)
	}
	var list v1alpha1.ApplicationList
	if err := r.Client.List(ctx, &list); err != nil {
		r.Log.Error(err, "list the applications of a cluster", "secret", client.ObjectKeyFromObject(s))
		return nil
	}
	var reqs []crreconcile.Request
	for _, a := range list.Items {
		if slices.Contains(names, normalServer(a.Spec.Destination.Cluster)) {
			reqs = append(reqs, crreconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
		}
	}
	return reqs
}

// clusterSecretChanged passes the events of the registry's cluster
// Secrets that change them: not a resync, which brings the same version.
type clusterSecretChanged struct{ clusters *Clusters }

func (p clusterSecretChanged) of(o client.Object) bool {
	s, ok := o.(*corev1.Secret)
	return ok && p.clusters.registers(s)
}

func (p clusterSecretChanged) Create(e event.CreateEvent) bool { return p.of(e.Object) }
func (p clusterSecretChanged) Delete(e event.DeleteEvent) bool { return p.of(e.Object) }
func (p clusterSecretChanged) Update(e event.UpdateEvent) bool {
	return (p.of(e.ObjectOld) || p.of(e.ObjectNew)) && e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion()
}
func (p clusterSecretChanged) Generic(event.GenericEvent) bool { return false }
