package stories

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/platform"
	"github.com/mlaudit/mlaudit/ref"
)

// Writer is where stories are seeded. registry.Client implements it.
type Writer interface {
	Push(ctx context.Context, r ref.Ref, t remote.Taggable) error
	Delete(ctx context.Context, r ref.Ref) error
}

// Dest says where a story is seeded: a registry host (with port) for the
// repositories, and a directory under which OCI layouts are written.
type Dest struct {
	Registry  string
	LayoutDir string
}

// Target is a reference a story audits, the platforms it requires, and
// the per-arch templates and mirror prefixes it is compared with.
type Target struct {
	Ref     ref.Ref
	Require []platform.Platform
	PerArch []string
	Mirrors []ref.Ref
	// Deep asks for the binaries to be checked.
	Deep bool
	// RequireSignatures says which manifests must be signed.
	RequireSignatures audit.Signatures
}

// Audit is the target as audit.Run takes it.
func (t Target) Audit() audit.Target {
	return audit.Target{Ref: t.Ref, Require: t.Require, PerArch: t.PerArch, Mirrors: t.Mirrors, Deep: t.Deep, RequireSignatures: t.RequireSignatures}
}

// Story is one real failure, ready to seed and audit.
type Story struct {
	// Name is a short key ("komodo").
	Name string
	// Title says what happened, in one line.
	Title string
	// Source credits the public project that reported it.
	Source string
	seed   func(b *builder) []Target
}

// All returns every story, in the order of STORIES.md, then the extra
// scenarios that cover the remaining finding codes.
func All() []Story {
	return []Story{
		{Name: "komodo", Source: "Komodo", Title: "A per-arch tag holds the wrong architecture: latest-aarch64 is an amd64 image", seed: komodo},
		{Name: "aibrix", Source: "AIBrix", Title: "An arm64 job overwrote the tags: the list lost linux/amd64, or became a single image; a per-arch tag was rebuilt alone; the mirror got only amd64", seed: aibrix},
		{Name: "neko", Source: "Neko", Title: "Arm-prefixed names replaced by one multi-arch name per image variant", seed: neko},
		{Name: "buildx", Source: "Buildx", Title: "A buildx OCI layout (--output type=oci) whose linux/arm64 entry is an amd64 image", seed: buildx},
		{Name: "hygiene", Source: "BuildKit and registries", Title: "Index shapes clients trip over: mixed media types, odd spellings, duplicates, lost children", seed: hygiene},
		{Name: "qemu", Source: "QEMU builds", Title: "An arm64 image in name and config whose binaries are x86-64: its Dockerfile downloaded the amd64 release (found with --deep)", seed: qemu},
		{Name: "releases", Source: "Release pipelines", Title: "A release lost linux/arm64 when its arm64 job failed, and was pushed again, leaving the first push's signature behind; a signed release has an unsigned image", seed: releases},
	}
}

// Seed pushes the story's images to dest and returns the targets to audit,
// with full references.
func (s Story) Seed(ctx context.Context, w Writer, dest Dest) ([]Target, error) {
	b := &builder{ctx: ctx, w: w, dest: dest}
	targets := s.seed(b)
	if b.err != nil {
		return nil, fmt.Errorf("seeding story %s: %w", s.Name, b.err)
	}
	return targets, nil
}

// AIBrixRuntime is the AIBrix list that lost linux/amd64, with per-arch
// tags "{tag}-amd64" and "{tag}-arm64" beside it to repair it from.
const AIBrixRuntime = "aibrix/runtime:v0.3.0-rc.2"

// TwoArch is what most stories require: linux/amd64 and linux/arm64.
func TwoArch() []platform.Platform { return append([]platform.Platform(nil), twoArch...) }

// The platforms stories require.
var (
	twoArch   = []platform.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	threeArch = []platform.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}}
)

func komodo(b *builder) []Target {
	amd := b.image("linux/amd64", OCI, "periphery")
	arm := b.image("linux/arm64/v8", OCI, "periphery")
	b.push("komodo/periphery:latest", b.index(OCI,
		Entry{Image: amd, Platform: "linux/amd64"},
		Entry{Image: arm, Platform: "linux/arm64/v8"},
		b.attestation(amd), b.attestation(arm)))
	b.push("komodo/periphery:latest-aarch64", b.image("linux/amd64", OCI, "periphery built on an amd64 runner"))
	return []Target{
		{Ref: b.ref("komodo/periphery:latest"), Require: twoArch},
		{Ref: b.ref("komodo/periphery:latest-aarch64"), Require: twoArch},
	}
}

func aibrix(b *builder) []Target {
	armRuntime := b.image("linux/arm64", Docker, "runtime")
	b.push("aibrix/runtime:v0.3.0-rc.2-amd64", b.image("linux/amd64", Docker, "runtime"))
	b.push("aibrix/runtime:v0.3.0-rc.2-arm64", armRuntime)
	b.push(AIBrixRuntime, b.index(Docker, Entry{Image: armRuntime, Platform: "linux/arm64"}))
	b.push("aibrix/gateway-plugins:v0.3.0-rc.2", b.image("linux/arm64", Docker, "gateway-plugins"))
	// The metadata-service list is whole, but its arm64 per-arch tag was
	// rebuilt alone afterwards, and the mirror got a copy made without
	// --all: only the amd64 image reached it.
	amdMeta := b.image("linux/amd64", Docker, "metadata-service")
	b.push("aibrix/metadata-service:v0.3.0-rc.2", b.index(Docker,
		Entry{Image: amdMeta, Platform: "linux/amd64"},
		Entry{Image: b.image("linux/arm64", Docker, "metadata-service"), Platform: "linux/arm64"}))
	b.push("aibrix/metadata-service:v0.3.0-rc.2-amd64", amdMeta)
	b.push("aibrix/metadata-service:v0.3.0-rc.2-arm64", b.image("linux/arm64", Docker, "metadata-service rebuilt alone"))
	b.push("mirror/aibrix/metadata-service:v0.3.0-rc.2", amdMeta)
	perArch, mirrors := []string{"{tag}-{arch}"}, []ref.Ref{b.prefix("mirror")}
	return []Target{
		{Ref: b.ref(AIBrixRuntime), Require: twoArch, PerArch: perArch},
		{Ref: b.ref("aibrix/gateway-plugins:v0.3.0-rc.2"), Require: twoArch, PerArch: perArch},
		{Ref: b.ref("aibrix/metadata-service:v0.3.0-rc.2"), Require: twoArch, PerArch: perArch, Mirrors: mirrors},
	}
}

func neko(b *builder) []Target {
	b.push("neko/neko:arm-firefox", b.image("linux/arm/v7", OCI, "legacy arm-firefox"))
	b.push("neko/firefox:latest", b.index(OCI,
		Entry{Image: b.image("linux/amd64", OCI, "firefox"), Platform: "linux/amd64"},
		Entry{Image: b.image("linux/arm64/v8", OCI, "firefox"), Platform: "linux/arm64/v8"},
		Entry{Image: b.image("linux/arm/v7", OCI, "firefox"), Platform: "linux/arm/v7"}))
	b.push("neko/nvidia-firefox:latest", b.index(OCI,
		Entry{Image: b.image("linux/amd64", OCI, "nvidia-firefox"), Platform: "linux/amd64"},
		Entry{Image: b.image("linux/arm64/v8", OCI, "nvidia-firefox"), Platform: "linux/arm64/v8"}))
	return []Target{
		{Ref: b.ref("neko/neko:arm-firefox"), Require: threeArch},
		{Ref: b.ref("neko/firefox:latest"), Require: threeArch},
		{Ref: b.ref("neko/nvidia-firefox:latest"), Require: threeArch},
	}
}

func buildx(b *builder) []Target {
	amd := b.image("linux/amd64", OCI, "app")
	wrong := b.image("linux/amd64", OCI, "app built FROM an amd64 base")
	b.pushTo(b.layout("buildx-out", "app-1.0"), b.index(OCI,
		Entry{Image: amd, Platform: "linux/amd64"},
		Entry{Image: wrong, Platform: "linux/arm64"},
		b.attestation(amd), b.attestation(wrong)))
	return []Target{{Ref: b.layout("buildx-out", "app-1.0"), Require: twoArch}}
}

func hygiene(b *builder) []Target {
	amd := b.image("linux/amd64", Docker, "tool")
	gone := b.image("linux/arm64", OCI, "tool, since deleted")
	b.push("acme/tool:3.1", b.index(Docker,
		Entry{Image: amd, Platform: "linux/amd64"},
		Entry{Image: b.image("linux/aarch64", OCI, "tool"), Platform: "linux/aarch64"},
		Entry{Image: b.image("linux/amd64", Docker, "tool rebuilt"), Platform: "linux/amd64"},
		Entry{Image: b.image("linux/s390x", Docker, "tool")},
		b.attestation(gone)))

	arm := b.image("linux/arm64", OCI, "broken")
	b.push("acme/broken:1.0", b.index(OCI,
		Entry{Image: b.image("linux/amd64", OCI, "broken"), Platform: "linux/amd64"},
		Entry{Image: arm, Platform: "linux/arm64"}))
	b.delete("acme/broken", arm)
	return []Target{
		{Ref: b.ref("acme/tool:3.1"), Require: twoArch},
		{Ref: b.ref("acme/broken:1.0"), Require: twoArch},
	}
}

func qemu(b *builder) []Target {
	good := b.binaryImage("linux/amd64", "amd64")
	wrong := b.binaryImage("linux/arm64", "amd64")
	b.push("acme/agent:2.0", b.index(OCI, Entry{Image: good, Platform: "linux/amd64"}, Entry{Image: wrong, Platform: "linux/arm64"}))
	b.push("acme/agent:1.9", b.index(OCI,
		Entry{Image: good, Platform: "linux/amd64"},
		Entry{Image: b.binaryImage("linux/arm64", "arm64"), Platform: "linux/arm64"}))
	return []Target{
		{Ref: b.ref("acme/agent:2.0"), Require: twoArch, Deep: true},
		{Ref: b.ref("acme/agent:1.9"), Require: twoArch, Deep: true},
	}
}

func (b *builder) binaryImage(p, binArch string) v1.Image {
	if b.err != nil {
		return nil
	}
	img, err := BinaryImage(p, binArch, "agent "+p)
	b.err = err
	return img
}

// builder keeps the first error, so seeds read as a list of steps.
type builder struct {
	ctx  context.Context
	w    Writer
	dest Dest
	err  error
}

// ref is repoTag on the story registry.
func (b *builder) ref(repoTag string) ref.Ref { return b.parse(ref.Parse, b.dest.Registry+"/"+repoTag) }

// prefix is a mirror prefix on the story registry.
func (b *builder) prefix(path string) ref.Ref {
	return b.parse(ref.ParsePrefix, b.dest.Registry+"/"+path)
}

// layout is the entry tag of the layout dir under the layout directory.
func (b *builder) layout(dir, tag string) ref.Ref {
	return b.parse(ref.Parse, "oci:"+b.dest.LayoutDir+"/"+dir+":"+tag)
}

func (b *builder) parse(parse func(string) (ref.Ref, error), s string) ref.Ref {
	r, err := parse(s)
	if b.err == nil {
		b.err = err
	}
	return r
}

func (b *builder) image(p string, f Format, salt string) v1.Image {
	if b.err != nil {
		return nil
	}
	img, err := Image(p, f, salt)
	b.err = err
	return img
}

func (b *builder) index(f Format, entries ...Entry) v1.ImageIndex {
	if b.err != nil {
		return nil
	}
	idx, err := Index(f, entries...)
	b.err = err
	return idx
}

func (b *builder) attestation(subject v1.Image) Entry {
	if b.err != nil {
		return Entry{}
	}
	d, err := subject.Digest()
	if err != nil {
		b.err = err
		return Entry{}
	}
	att, err := Attestation(d)
	b.err = err
	return Entry{Image: att, Attests: &d}
}

// push writes t to repoTag on the story registry.
func (b *builder) push(repoTag string, t remote.Taggable) { b.pushTo(b.ref(repoTag), t) }

// pushTo writes t to r, a registry or layout reference.
func (b *builder) pushTo(r ref.Ref, t remote.Taggable) {
	if b.err != nil {
		return
	}
	b.err = b.w.Push(b.ctx, r, t)
}

// delete removes img's manifest from repo after the index that lists it was
// pushed: registries refuse an index whose children are missing, so this is
// the only way to build a missing child.
func (b *builder) delete(repo string, img interface{ Digest() (v1.Hash, error) }) {
	if b.err != nil {
		return
	}
	d, err := img.Digest()
	if err != nil {
		b.err = err
		return
	}
	b.err = b.w.Delete(b.ctx, b.ref(repo).WithDigest(d.String()))
}

// Releases is the repository the releases story walks.
const Releases = "acme/runtime"

// releasesFirstPush is the first push of 1.5.0, signed and then replaced:
// its signature tag is left behind.
func releasesFirstPush() (v1.ImageIndex, error) {
	amd, err := Image("linux/amd64", OCI, "runtime 1.5.0, first push")
	if err != nil {
		return nil, err
	}
	return Index(OCI, Entry{Image: amd, Platform: "linux/amd64"})
}

// OrphanSignature is the repository and tag ("acme/runtime:sha256-<hex>.sig")
// of the signature the releases story leaves behind.
func OrphanSignature() (string, error) {
	idx, err := releasesFirstPush()
	if err != nil {
		return "", err
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return Releases + ":" + ref.SignatureTags(d.String())[0], nil
}

func releases(b *builder) []Target {
	amd := b.image("linux/amd64", OCI, "runtime")
	b.push(Releases+":1.4.0", b.index(OCI,
		Entry{Image: amd, Platform: "linux/amd64"},
		Entry{Image: b.image("linux/arm64", OCI, "runtime 1.4.0"), Platform: "linux/arm64"}))
	// 1.5.0's arm64 job failed; the list was pushed with amd64 alone,
	// signed, then pushed again (a rebuild) and the first push deleted.
	first, err := releasesFirstPush()
	if b.err == nil {
		b.err = err
	}
	b.push(Releases+":1.5.0", first)
	b.sign(Releases, first)
	b.push(Releases+":1.5.0", b.index(OCI, Entry{Image: b.image("linux/amd64", OCI, "runtime 1.5.0"), Platform: "linux/amd64"}))
	b.delete(Releases, first)

	// A signed release whose arm64 image nobody signed.
	signedAmd, signedArm := b.image("linux/amd64", OCI, "signed"), b.image("linux/arm64", OCI, "signed")
	signed := b.index(OCI, Entry{Image: signedAmd, Platform: "linux/amd64"}, Entry{Image: signedArm, Platform: "linux/arm64"})
	b.push("acme/signed:2.0", signed)
	b.sign("acme/signed", signed)
	b.sign("acme/signed", signedAmd)
	return []Target{
		{Ref: b.ref(Releases)},
		{Ref: b.ref("acme/signed:2.0"), Require: twoArch, RequireSignatures: audit.SignAll},
	}
}

// sign pushes a cosign-style signature of m to its tag sha256-<hex>.sig
// in repo.
func (b *builder) sign(repo string, m interface{ Digest() (v1.Hash, error) }) {
	if b.err != nil {
		return
	}
	d, err := m.Digest()
	if err != nil {
		b.err = err
		return
	}
	sig, err := Signature(d)
	if err != nil {
		b.err = err
		return
	}
	b.push(repo+":"+ref.SignatureTags(d.String())[0], sig)
}
