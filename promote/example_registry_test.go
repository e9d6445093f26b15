package promote_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/converge-dev/converge/promote"
)

func ExampleImageRepository_Tags() {
	// An in-process registry with app:1.0.0, 1.1.0, 1.2.0-rc.1 and a
	// cosign signature tag.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	pushed := map[string]string{}
	for _, tag := range []string{"1.0.0", "1.1.0", "1.2.0-rc.1", "sha256-1a2b.sig"} {
		img, _ := random.Image(64, 1)
		ref, _ := name.NewTag(host+"/app:"+tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			fmt.Println(err)
			return
		}
		d, _ := img.Digest()
		pushed[tag] = d.String()
	}

	ctx := context.Background()
	repo, err := promote.NewImageRepository(host+"/app", promote.WithInsecure())
	if err != nil {
		fmt.Println(err)
		return
	}
	tags, err := repo.Tags(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tags)

	tag, _ := promote.Policy{Kind: promote.SemVer, Range: "^1.0.0"}.Latest(tags)
	digest, _ := repo.Digest(ctx, tag)
	fmt.Println(tag, digest == pushed[tag])
	// Output:
	// [1.0.0 1.1.0 1.2.0-rc.1]
	// 1.1.0 true
}
