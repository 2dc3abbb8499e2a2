package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"time"
)

// signer signs JWTs the way distribution's token authentication verifies
// them (registry/auth/token/token.go in github.com/docker/distribution
// v2.8): a compact JWS with alg ES256, whose header's x5c holds the
// signing certificate, which the registry checks against the bundle its
// configuration names (rootcertbundle), and whose signature is the two
// 32-byte halves r and s (RFC 7518, section 3.4), as libtrust reads it.
// Written by hand because crypto/ecdsa and encoding/base64 are all it
// takes; no JWT library is among mlaudit's dependencies.
type signer struct {
	key  *ecdsa.PrivateKey
	cert []byte // DER, self-signed
}

func newSigner() (*signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mlaudit test token issuer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &signer{key: key, cert: cert}, nil
}

// certPEM is the certificate, for the registry's rootcertbundle.
func (s *signer) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert})
}

// sign makes a JWT of claims.
func (s *signer) sign(claims any) (string, error) {
	header, err := json.Marshal(map[string]any{
		"typ": "JWT",
		"alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(s.cert)},
	})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + b64(sig), nil
}

// verify checks a JWT's signature, for the in-process wrapper, which
// reads the tokens it issued.
func (s *signer) verify(header, payload, sig string) error {
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(raw) != 64 {
		return errors.New("malformed signature")
	}
	digest := sha256.Sum256([]byte(header + "." + payload))
	if !ecdsa.Verify(&s.key.PublicKey, digest[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
		return errors.New("bad signature")
	}
	return nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
