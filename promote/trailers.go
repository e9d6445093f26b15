package promote

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The Git trailers of a promotion commit, in the order [Provenance.Trailers]
// writes them. Keys are compared without regard to case, as git does.
const (
	// TrailerFrom names the environment the promotion came from.
	TrailerFrom = "Promoted-From"
	// TrailerTo names the environment it went to.
	TrailerTo = "Promoted-To"
	// TrailerRevision is the revision From ran when it was promoted.
	TrailerRevision = "Promoted-Revision"
	// TrailerImage is one promoted image, name[:tag][@digest]; one
	// trailer per image.
	TrailerImage = "Promoted-Image"
	// TrailerGate is one gate's answer, "NAME passed[: DETAIL]" or
	// "NAME failed[: DETAIL]"; one trailer per gate.
	TrailerGate = "Promoted-Gate"
)

var provenanceKeys = []string{TrailerFrom, TrailerTo, TrailerRevision, TrailerImage, TrailerGate}

var (
	// ErrNoProvenance: a commit message carries no promotion trailers.
	ErrNoProvenance = errors.New("no promotion trailers")
	// ErrInvalidProvenance: a provenance value cannot be written as a
	// trailer (a newline, a control character, an image that is not one),
	// or a message's trailers are malformed or repeat a single-valued key.
	ErrInvalidProvenance = errors.New("invalid promotion provenance")
)

// Bounds of what [ParseProvenance] reads and [Provenance.Validate] allows,
// and of the message a [Change] gives.
const (
	maxMessage           = 64 << 10 // bytes of a Change's message, trailers excluded
	maxProvenanceMessage = 1 << 20  // bytes of a whole commit message
	maxTrailerValue      = 1024     // bytes of one value
	maxProvenanceItems   = 256      // images, and gates
)

// Provenance is where a promotion came from, written into its commit as
// Git trailers so that a rollback, a pipeline or a person reading `git
// log` can tell what was promoted, from where, and on whose word:
//
//	Promoted-From: dev
//	Promoted-To: staging
//	Promoted-Revision: 3f2c9a1e…
//	Promoted-Image: ghcr.io/org/web:1.5.0@sha256:…
//	Promoted-Gate: health passed: dev runs main@sha1:3f2c9a1e…, Synced and Healthy
//
// Every value is one line of printable text; [ParseProvenance] reads back
// exactly what [Provenance.Trailers] wrote.
type Provenance struct {
	// From and To are the environments' names.
	From, To string
	// Revision is what From ran: a commit hash, or a snapshot's revision
	// such as "main@sha1:3f2c9a1e…". It holds no white space.
	Revision string
	// Images are the promoted images, each with a tag, a digest or both.
	Images []ImageRef
	// Gates are the gates' answers.
	Gates []GateResult
}

// PlanProvenance is the provenance of a promotion made of plans (one per
// application, all between the same two environments), at revision of
// the source environment: the first plan's environments, every plan's
// images (once each) and gates.
func PlanProvenance(revision string, plans ...*Plan) Provenance {
	p := Provenance{Revision: revision}
	for _, plan := range plans {
		if plan == nil {
			continue
		}
		if p.From == "" && p.To == "" {
			p.From, p.To = plan.From.Name, plan.To.Name
		}
		for _, img := range plan.Images {
			if !slices.Contains(p.Images, img) {
				p.Images = append(p.Images, img)
			}
		}
		p.Gates = append(p.Gates, plan.Gates...)
	}
	return p
}

// IsZero reports whether p holds nothing: a commit without trailers.
func (p Provenance) IsZero() bool {
	return p.From == "" && p.To == "" && p.Revision == "" && len(p.Images) == 0 && len(p.Gates) == 0
}

// Validate refuses a provenance that could not be read back as written:
// a value with a newline, a control or invisible formatting character,
// leading or trailing white space, or over 1024 bytes; a revision with
// white space; an image without a valid name, or with neither a valid tag
// nor a valid digest; a gate name that is not letters, digits and . _ -;
// more than 256 images or gates. The error wraps [ErrInvalidProvenance].
func (p Provenance) Validate() error {
	for _, f := range []struct{ key, value string }{{TrailerFrom, p.From}, {TrailerTo, p.To}, {TrailerRevision, p.Revision}} {
		if f.value == "" {
			continue
		}
		if err := validTrailerValue(f.key, f.value); err != nil {
			return err
		}
	}
	if strings.ContainsFunc(p.Revision, unicode.IsSpace) {
		return invalidProvenance("%s %q holds white space", TrailerRevision, clip(p.Revision))
	}
	if len(p.Images) > maxProvenanceItems || len(p.Gates) > maxProvenanceItems {
		return invalidProvenance("more than %d images or gates", maxProvenanceItems)
	}
	for _, img := range p.Images {
		if _, err := formatImageRef(img); err != nil {
			return err
		}
	}
	for _, g := range p.Gates {
		if _, err := formatGate(g); err != nil {
			return err
		}
	}
	return nil
}

// Trailers returns p as trailer lines, "Key: value\n" each, in the order
// of the Trailer constants: what [Publisher.Publish] appends to a commit
// message. It is empty when p is zero, and when p does not validate.
func (p Provenance) Trailers() string {
	if p.IsZero() || p.Validate() != nil {
		return ""
	}
	var b strings.Builder
	line := func(key, value string) {
		if value != "" {
			b.WriteString(key + ": " + value + "\n")
		}
	}
	line(TrailerFrom, p.From)
	line(TrailerTo, p.To)
	line(TrailerRevision, p.Revision)
	for _, img := range p.Images {
		s, _ := formatImageRef(img) // validated above
		line(TrailerImage, s)
	}
	for _, g := range p.Gates {
		s, _ := formatGate(g)
		line(TrailerGate, s)
	}
	return b.String()
}

// ParseProvenance reads the promotion trailers of a commit message. The
// trailers are the message's last paragraph, provided every line of it is
// a "Key: value" trailer (or a continuation line, indented, which git
// folds into the value before it); trailers with other keys
// (Signed-off-by) are passed over. It fails with [ErrNoProvenance] when
// there are no promotion trailers, and with [ErrInvalidProvenance] when
// one is malformed, a single-valued key (From, To, Revision) repeats, or
// the message is over 1 MiB.
func ParseProvenance(message string) (Provenance, error) {
	if len(message) > maxProvenanceMessage {
		return Provenance{}, invalidProvenance("a message of %d bytes is over the %d-byte bound", len(message), maxProvenanceMessage)
	}
	trailers, ok := trailerBlock(message)
	if !ok {
		return Provenance{}, ErrNoProvenance
	}
	var p Provenance
	found := false
	seen := map[string]bool{}
	for _, t := range trailers {
		key := canonicalKey(t.key)
		if key == "" {
			continue // someone else's trailer
		}
		found = true
		if err := validTrailerValue(key, t.value); err != nil {
			return Provenance{}, err
		}
		switch key {
		case TrailerFrom, TrailerTo, TrailerRevision:
			if seen[key] {
				return Provenance{}, invalidProvenance("%s appears twice", key)
			}
			seen[key] = true
		}
		switch key {
		case TrailerFrom:
			p.From = t.value
		case TrailerTo:
			p.To = t.value
		case TrailerRevision:
			p.Revision = t.value
		case TrailerImage:
			img, err := parseImageRef(t.value)
			if err != nil {
				return Provenance{}, err
			}
			p.Images = append(p.Images, img)
		case TrailerGate:
			g, err := parseGate(t.value)
			if err != nil {
				return Provenance{}, err
			}
			p.Gates = append(p.Gates, g)
		}
	}
	if !found {
		return Provenance{}, ErrNoProvenance
	}
	if err := p.Validate(); err != nil {
		return Provenance{}, err
	}
	return p, nil
}

type trailer struct{ key, value string }

// trailerKey is what git accepts as a trailer: a token of letters, digits
// and dashes, a colon (white space before it allowed, as git allows it),
// the value.
var trailerKey = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$`)

// trailerBlock returns the trailers of message's last paragraph, and
// false when that paragraph is not a trailer block (a line in it is
// neither a trailer, a continuation nor a '#' comment, which git skips)
// or there is none. Git is laxer in one way: a paragraph that is only a
// quarter trailers still counts when one of them is git's own
// (Signed-off-by); such a message reads here as having no trailers.
func trailerBlock(message string) ([]trailer, bool) {
	lines := strings.Split(strings.TrimRight(message, "\n"), "\n")
	start := len(lines)
	for start > 0 && strings.TrimSpace(lines[start-1]) != "" {
		start--
	}
	if start == len(lines) || start == 0 {
		// No paragraph, or the whole message is one: git never reads a
		// subject line as a trailer.
		return nil, false
	}
	var out []trailer
	for _, l := range lines[start:] {
		if l[0] == '#' {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(out) == 0 {
				return nil, false
			}
			out[len(out)-1].value += " " + strings.TrimSpace(l)
			continue
		}
		m := trailerKey.FindStringSubmatch(l)
		if m == nil {
			return nil, false
		}
		out = append(out, trailer{key: m[1], value: strings.TrimRight(m[2], " \t")})
	}
	return out, true
}

// canonicalKey returns the Trailer constant key names, or "" when it
// names none.
func canonicalKey(key string) string {
	for _, k := range provenanceKeys {
		if strings.EqualFold(k, key) {
			return k
		}
	}
	return ""
}

// isUnsafeInLine reports a rune that must not reach a one-line value: a
// control character or an invisible formatting one (a bidirectional
// override could make a reviewer read another value than git stores).
func isUnsafeInLine(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

func validTrailerValue(key, v string) error {
	switch {
	case v == "":
		return invalidProvenance("%s is empty", key)
	case len(v) > maxTrailerValue:
		return invalidProvenance("%s is over %d bytes", key, maxTrailerValue)
	case !utf8.ValidString(v):
		return invalidProvenance("%s is not valid UTF-8", key)
	case strings.ContainsFunc(v, isUnsafeInLine):
		return invalidProvenance("%s %q holds a control or formatting character", key, clip(v))
	case strings.TrimSpace(v) != v:
		return invalidProvenance("%s %q starts or ends with white space", key, clip(v))
	}
	return nil
}

// formatImageRef writes an image as name[:tag][@digest], refusing one that
// would not read back the same (see splitImage): the part of the name
// after its first '/' (all of it when there is none) holds no ':'.
func formatImageRef(img ImageRef) (string, error) {
	bad := func(why string) (string, error) {
		return "", invalidProvenance("%s %q %s", TrailerImage, clip(img.String()), why)
	}
	rest := img.Name
	if i := strings.Index(rest, "/"); i > 0 {
		rest = rest[i:]
	}
	switch {
	case !nameRE.MatchString(img.Name) || strings.Contains(rest, ":"):
		return bad("has no valid image name")
	case img.Tag == "" && img.Digest == "":
		return bad("has neither a tag nor a digest")
	case img.Tag != "" && !tagRE.MatchString(img.Tag):
		return bad("has an invalid tag")
	case img.Digest != "" && !digestRE.MatchString(img.Digest):
		return bad("has an invalid digest")
	}
	s := img.Name
	if img.Tag != "" {
		s += ":" + img.Tag
	}
	if img.Digest != "" {
		s += "@" + img.Digest
	}
	return s, nil
}

func parseImageRef(v string) (ImageRef, error) {
	name, tag, digest := splitImage(v)
	img := ImageRef{Name: name, Tag: tag, Digest: digest}
	if s, err := formatImageRef(img); err != nil || s != v {
		return ImageRef{}, invalidProvenance("%s %q is not name[:tag][@digest]", TrailerImage, clip(v))
	}
	return img, nil
}

var gateName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// formatGate writes a gate's answer as GateResult.String does:
// "NAME passed[: DETAIL]".
func formatGate(g GateResult) (string, error) {
	if !gateName.MatchString(g.Name) {
		return "", invalidProvenance("gate name %q is not 1 to 63 letters, digits and . _ -", clip(g.Name))
	}
	if g.Detail != "" {
		if err := validTrailerValue("gate "+g.Name+" detail", g.Detail); err != nil {
			return "", err
		}
	}
	s := g.String()
	if len(s) > maxTrailerValue {
		return "", invalidProvenance("gate %s is over %d bytes", g.Name, maxTrailerValue)
	}
	return s, nil
}

func parseGate(v string) (GateResult, error) {
	name, rest, _ := strings.Cut(v, " ")
	verdict, detail, hasDetail := strings.Cut(rest, ": ")
	g := GateResult{Name: name, Detail: detail}
	switch verdict {
	case "passed":
		g.Passed = true
	case "failed":
	default:
		return GateResult{}, invalidProvenance("%s %q is not \"NAME passed\" or \"NAME failed\"", TrailerGate, clip(v))
	}
	if s, err := formatGate(g); err != nil || s != v || (hasDetail && detail == "") {
		return GateResult{}, invalidProvenance("%s %q is not \"NAME passed[: DETAIL]\"", TrailerGate, clip(v))
	}
	return g, nil
}

func invalidProvenance(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidProvenance, fmt.Sprintf(format, args...))
}

// composeMessage validates a commit message and appends prov's trailers.
func composeMessage(msg string, prov Provenance) (string, error) {
	msg = strings.TrimRight(msg, " \t\n")
	bad := func(why string) (string, error) { return "", fmt.Errorf("%w: the message %s", ErrInvalidMessage, why) }
	subject, _, _ := strings.Cut(msg, "\n")
	switch {
	case strings.TrimSpace(subject) == "":
		return bad("has no subject line")
	case len(msg) > maxMessage:
		return bad(fmt.Sprintf("is over %d bytes", maxMessage))
	case !utf8.ValidString(msg):
		return bad("is not valid UTF-8")
	}
	for _, r := range msg {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || isBidi(r)) {
			return bad(fmt.Sprintf("holds the control character %U", r))
		}
	}
	for _, line := range strings.Split(msg, "\n") {
		if m := trailerKey.FindStringSubmatch(line); m != nil && canonicalKey(m[1]) != "" {
			return bad(fmt.Sprintf("has a line %q that reads as a promotion trailer; give it as the Change's Provenance", clip(line)))
		}
	}
	if err := prov.Validate(); err != nil {
		return "", err
	}
	t := prov.Trailers()
	switch {
	case t == "":
		return msg + "\n", nil
	case hasTrailerBlock(msg):
		return msg + "\n" + t, nil
	}
	return msg + "\n\n" + t, nil
}

func hasTrailerBlock(msg string) bool { _, ok := trailerBlock(msg); return ok }

// isBidi reports a bidirectional formatting character, which can make a
// message read otherwise than it is stored ("Trojan Source").
func isBidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
