package cli

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/secrets/sealed"
)

// maxInput bounds what seal and unseal read from stdin.
const maxInput = 8 << 20

func newSeal() *cobra.Command {
	var certFile, scope, namespace string
	cmd := &cobra.Command{
		Use:   "seal --cert FILE [--scope strict|namespace-wide|cluster-wide]",
		Short: "Seal a Secret (stdin) into a SealedSecret (stdout), like kubeseal --format yaml",
		Long: `Seal reads a Secret (YAML or JSON) on stdin and writes the SealedSecret that
the Sealed Secrets controller holding the certificate's key unseals, as
kubeseal --format yaml --cert FILE does, without a cluster.

The scope says where it may be unsealed: strict (the default: this name in
this namespace), namespace-wide (any name in this namespace) or cluster-wide.
Without --scope the Secret's sealedsecrets.bitnami.com/* annotations choose,
as they do for kubeseal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if certFile == "" {
				return usagef("--cert is required (the controller's certificate: kubeseal --fetch-cert, or the sealing key Secret's tls.crt)")
			}
			var sc sealed.Scope
			if scope != "" {
				var err error
				if sc, err = sealed.ParseScope(scope); err != nil {
					return usagef("--scope: %v", err)
				}
			}
			pem, err := os.ReadFile(certFile)
			if err != nil {
				return usagef("--cert %s: %v", certFile, rootCause(err))
			}
			pub, err := sealed.ParsePublicKey(pem)
			if err != nil {
				return usagef("--cert %s: %s", certFile, oneLine(err.Error()))
			}
			objs, err := readStdin(cmd, "a Secret")
			if err != nil {
				return err
			}
			for i, obj := range objs {
				if obj.GetNamespace() == "" && namespace != "" {
					obj.SetNamespace(namespace)
				}
				secret, err := sealed.FromSecretObject(obj)
				if err != nil {
					return fmt.Errorf("stdin: %s", oneLine(err.Error()))
				}
				ss, err := sealed.Seal(rand.Reader, pub, secret, sc)
				if err != nil {
					return fmt.Errorf("stdin: %s", oneLine(err.Error()))
				}
				if err := writeYAML(cmd.OutOrStdout(), ss.Object, i > 0); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&certFile, "cert", "", "the controller's certificate or public key (PEM)")
	fl.StringVar(&scope, "scope", "", "strict, namespace-wide or cluster-wide (default: the Secret's annotations, else strict)")
	fl.StringVarP(&namespace, "namespace", "n", "", "namespace of a Secret that names none")
	return cmd
}

func newUnseal() *cobra.Command {
	var keyFiles []string
	cmd := &cobra.Command{
		Use:   "unseal --key FILE",
		Short: "Unseal SealedSecrets (stdin) into Secrets (stdout), like kubeseal --recovery-unseal",
		Long: `Unseal reads SealedSecrets (YAML or JSON) on stdin and writes the Secrets they
hold, as kubeseal --recovery-unseal --recovery-private-key FILE does. A key
file is a PEM private key or the controller's key Secrets as
kubectl get secret -n NS -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml
exports them; give --key once per file, every key is tried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(keyFiles) == 0 {
				return usagef("--key is required")
			}
			var data [][]byte
			for _, name := range keyFiles {
				b, err := os.ReadFile(name)
				if err != nil {
					return usagef("--key %s: %v", name, rootCause(err))
				}
				data = append(data, b)
			}
			keys, err := sealed.ParsePrivateKeys(data...)
			if err != nil {
				return usagef("--key: %s", oneLine(err.Error()))
			}
			objs, err := readStdin(cmd, "a SealedSecret")
			if err != nil {
				return err
			}
			for i, obj := range objs {
				secret, err := keys.Unseal(obj)
				if err != nil {
					return fmt.Errorf("stdin: %s", oneLine(err.Error()))
				}
				s, err := sealed.ToSecretObject(secret)
				if err != nil {
					return fmt.Errorf("stdin: %s", oneLine(err.Error()))
				}
				if err := writeYAML(cmd.OutOrStdout(), s.Object, i > 0); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "a private key file (repeatable)")
	return cmd
}

// readStdin reads the objects on stdin, bounded.
func readStdin(cmd *cobra.Command, what string) ([]*unstructured.Unstructured, error) {
	data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	if len(data) > maxInput {
		return nil, usagef("stdin holds more than %d MiB", maxInput>>20)
	}
	objs, err := object.DecodeBytes(data, object.DefaultDecodeOptions())
	if err != nil {
		return nil, usagef("stdin: %s", oneLine(err.Error()))
	}
	if len(objs) == 0 {
		return nil, usagef("stdin holds no object: pipe %s in", what)
	}
	return objs, nil
}

func writeYAML(w io.Writer, obj map[string]any, separate bool) error {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	if separate {
		if _, err := io.WriteString(w, "---\n"); err != nil {
			return err
		}
	}
	_, err = w.Write(b)
	return err
}
