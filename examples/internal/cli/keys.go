package cli

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/converge-dev/converge/reconcile"
	"github.com/converge-dev/converge/secrets/sops"
)

// keyFlags name the SOPS keys of plan, apply, sync and diff.
type keyFlags struct {
	age, pgp []string
}

func (k *keyFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&k.age, "age-key-file", nil, "decrypt SOPS files with the age identities (or OpenSSH private key) in this file (repeatable)")
	fs.StringArrayVar(&k.pgp, "pgp-key-file", nil, "decrypt SOPS files with the armored OpenPGP private key in this file (repeatable)")
}

func (k *keyFlags) given() bool { return len(k.age)+len(k.pgp) > 0 }

// options reads the key files. Their content is never printed: an error
// names the file and says what is wrong.
func (k *keyFlags) options() (reconcile.SOPSOptions, error) {
	o := reconcile.SOPSOptions{FromSecretRef: true}
	read := func(flag string, names []string) ([][]byte, error) {
		var out [][]byte
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				return nil, usagef("--%s %s: %v", flag, name, rootCause(err))
			}
			out = append(out, data)
		}
		return out, nil
	}
	var err error
	if o.AgeKeys, err = read("age-key-file", k.age); err != nil {
		return o, err
	}
	if o.PGPKeys, err = read("pgp-key-file", k.pgp); err != nil {
		return o, err
	}
	return o, nil
}

// decryptor builds a decryptor from the key files, checking them before
// anything else runs.
func (k *keyFlags) decryptor() (*sops.Decryptor, error) {
	o, err := k.options()
	if err != nil {
		return nil, err
	}
	var opts []sops.Option
	for _, key := range o.AgeKeys {
		opts = append(opts, sops.WithAgeKeys(key))
	}
	for _, key := range o.PGPKeys {
		opts = append(opts, sops.WithPGPKeys(key))
	}
	d, err := sops.NewDecryptor(opts...)
	if err != nil {
		return nil, usagef("SOPS keys: %s", oneLine(err.Error()))
	}
	return d, nil
}

// decryptUnits makes every unit decrypt SOPS when keys are given, as a
// Flux Kustomization with decryption.provider sops does.
func decryptUnits(units []reconcile.Unit) {
	for i := range units {
		if units[i].Decryption == nil {
			units[i].Decryption = &reconcile.Decryption{Provider: "sops"}
		}
	}
}
