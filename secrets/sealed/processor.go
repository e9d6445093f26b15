package sealed

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/converge-dev/converge/object"
	"github.com/converge-dev/converge/render"
)

// Processor returns a render step that replaces every SealedSecret of a
// rendered set with the Secret it unseals into (see [Keys.Unseal]), in
// its place and with its source, for hosts whose clusters run no Sealed
// Secrets controller. It fails closed: if any SealedSecret does not
// unseal, or its Secret collides with one already in the set, it returns
// no set and an error naming every SealedSecret at fault. The input set
// is not modified; the output shares its other objects. SealedSecrets
// are unsealed concurrently, on every core.
func Processor(keys *Keys) render.Processor {
	return render.ProcessorFunc(func(ctx context.Context, set *object.Set) (*object.Set, error) {
		ids := set.IDs()
		unsealed := make([]*unstructured.Unstructured, len(ids))
		errs := make([]error, len(ids))
		// RSA decryption is the cost: unseal on every core.
		work := make(chan int)
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(ids)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					obj, _ := set.Get(ids[i])
					unsealed[i], errs[i] = unsealObject(keys, obj)
				}
			}()
		}
	feed:
		for i, id := range ids {
			if id.Group != "bitnami.com" || id.Kind != Kind {
				continue
			}
			select {
			case work <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out := object.NewSet()
		var all []error
		for i, id := range ids {
			obj, _ := set.Get(id)
			switch {
			case errs[i] != nil:
				all = append(all, errs[i])
				continue
			case unsealed[i] != nil:
				obj = unsealed[i]
			}
			if err := out.Add(obj, set.Source(id)); err != nil {
				if unsealed[i] != nil {
					err = fmt.Errorf("%s unsealed: %w", id, err)
				}
				all = append(all, err)
			}
		}
		if len(all) > 0 {
			return nil, errors.Join(all...)
		}
		return out, nil
	})
}

// unsealObject unseals one SealedSecret into the Secret object to apply.
func unsealObject(keys *Keys, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	secret, err := keys.Unseal(obj)
	if err != nil {
		return nil, err
	}
	// Server-set fields a template may carry cannot be applied.
	secret.UID, secret.ResourceVersion, secret.Generation, secret.SelfLink = "", "", 0, ""
	secret.ManagedFields = nil
	return ToSecretObject(secret)
}
