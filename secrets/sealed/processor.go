package sealed

import (
	"context"
	"errors"
	"fmt"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Processor returns a render step that replaces every SealedSecret of a
// rendered set with the Secret it unseals into (see [Keys.Unseal]), in
// its place and with its source, for hosts whose clusters run no Sealed
// Secrets controller. It fails closed: if any SealedSecret does not
// unseal, or its Secret collides with one already in the set, it returns
// no set and an error naming every SealedSecret at fault. The input set
// is not modified; the output shares its other objects.
func Processor(keys *Keys) render.Processor {
	return render.ProcessorFunc(func(ctx context.Context, set *object.Set) (*object.Set, error) {
		out := object.NewSet()
		var errs []error
		for id, obj := range set.All() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if id.Group != "bitnami.com" || id.Kind != Kind {
				if err := out.Add(obj, set.Source(id)); err != nil {
					errs = append(errs, err)
				}
				continue
			}
			secret, err := keys.Unseal(obj)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			// Server-set fields a template may carry cannot be applied.
			secret.UID, secret.ResourceVersion, secret.Generation, secret.SelfLink = "", "", 0, ""
			secret.ManagedFields = nil
			sobj, err := ToSecretObject(secret)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := out.Add(sobj, set.Source(id)); err != nil {
				errs = append(errs, fmt.Errorf("%s unsealed: %w", id, err))
			}
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return out, nil
	})
}
