package check

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// DigestFunc returns the digest ("sha256:…") that image's tag points at
// in its registry now. promote.ImageRepository's Digest method is one.
type DigestFunc func(ctx context.Context, image, tag string) (string, error)

// MovedTagsOptions configure [MovedTags].
type MovedTagsOptions struct {
	// Registries limit the images resolved to those on these hosts
	// ("ghcr.io", "localhost:5000"); every image's when empty.
	Registries []string
	// Known are digests seen before, by "image:tag": a reference by tag
	// alone whose tag now resolves elsewhere moved since.
	Known map[string]string
	// MaxImages bounds how many image:tag pairs are resolved (100 when
	// 0); the report says which were not.
	MaxImages int
}

var movedTagMeta = Meta{
	ID: "image-tag-moved", Title: "An image tag that moved",
	Severity: SeverityHigh, Section: SectionImages,
	Fix: "Never re-push a release tag; pin the digest (image: name:tag@sha256:… or images: digest:) and let a promotion change it",
}

// MovedTags is the rule image-tag-moved: an image pinned by tag and
// digest (name:tag@sha256:…, or a kustomization images: entry with
// newTag and digest) whose tag resolve says points at another digest
// now, and an image by tag alone whose tag's digest differs from the one
// opts.Known holds. A moved tag means what runs is not what was tested.
// A tag that cannot be resolved is a note, not a finding.
func MovedTags(resolve DigestFunc, opts MovedTagsOptions) Rule {
	if opts.MaxImages <= 0 {
		opts.MaxImages = 100
	}
	return NewRule(movedTagMeta, func(ctx context.Context, t *Target) ([]Finding, error) {
		docs, err := t.Documents(ctx)
		if err != nil {
			return nil, err
		}
		type use struct {
			doc       *Document
			line, col int
			digest    string // pinned beside the tag, or ""
		}
		uses := map[string][]use{} // "image:tag" → where
		var order []string
		add := func(image, tag, digest string, d *Document, line, col int) {
			if tag == "" || !onRegistry(image, opts.Registries) {
				return
			}
			if digest == "" && opts.Known[image+":"+tag] == "" {
				return // nothing to compare with
			}
			k := image + ":" + tag
			if _, ok := uses[k]; !ok {
				order = append(order, k)
			}
			uses[k] = append(uses[k], use{d, line, col, digest})
		}
		for _, d := range docs {
			if isKustomization(d) {
				for _, img := range seq(lookup(d.Root, "images")) {
					name := cmp.Or(scalar(img, "newName"), scalar(img, "name"))
					if v := lookup(img, "newTag"); v != nil {
						add(name, v.Value, scalar(img, "digest"), d, v.Line, v.Column)
					}
				}
				continue
			}
			p, ok := podSpecPaths[d.Kind]
			if !ok {
				continue
			}
			spec := lookupPath(d.Root, p...)
			for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
				for _, c := range seq(lookup(spec, field)) {
					v := lookup(c, "image")
					if v == nil || strings.ContainsAny(v.Value, "{$") {
						continue
					}
					ref, digest, _ := strings.Cut(v.Value, "@")
					name, tag, _ := splitImage(ref)
					add(name, tag, digest, d, v.Line, v.Column)
				}
			}
		}
		var out []Finding
		var notes []string
		if len(order) > opts.MaxImages {
			notes = append(notes, fmt.Sprintf("resolved %d of %d image tags; not resolved: %s", opts.MaxImages, len(order), strings.Join(clip(order[opts.MaxImages:], 5), ", ")))
			order = order[:opts.MaxImages]
		}
		for _, k := range order {
			i := strings.LastIndexByte(k, ':')
			image, tag := k[:i], k[i+1:]
			now, rerr := resolve(ctx, image, tag)
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if rerr != nil {
				notes = append(notes, fmt.Sprintf("%s not resolved: %v", k, rerr))
				continue
			}
			for _, u := range uses[k] {
				was, how := u.digest, "the manifest pins"
				if was == "" {
					was, how = opts.Known[k], "was seen before"
				}
				if was != now {
					out = append(out, at(movedTagMeta, u.doc, u.line, u.col, "tag %s of %s moved: it points at %s now, not at %s, which %s", tag, image, shortDigest(now), shortDigest(was), how))
				}
			}
		}
		if len(notes) > 0 {
			return out, &IncompleteError{Notes: notes}
		}
		return out, nil
	})
}

// onRegistry reports whether image is on one of the registries (any
// when none are given). An image without a host is on docker.io.
func onRegistry(image string, registries []string) bool {
	if len(registries) == 0 {
		return true
	}
	host := "docker.io"
	if first, _, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		host = first
	}
	return slices.Contains(registries, host)
}

// shortDigest returns sha256: and the first 12 hex digits.
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}
