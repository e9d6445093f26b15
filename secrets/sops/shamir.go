package sops

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// Shamir's secret sharing over GF(2^8) with the AES polynomial
// x^8+x^4+x^3+x+1, in the encoding sops uses (that of HashiCorp Vault):
// a share is the polynomials' values at x, one byte per secret byte,
// followed by x itself; shares are numbered x = 1…n.

// gfMul multiplies in GF(2^8) without branches on secret data.
func gfMul(a, b uint8) uint8 {
	var acc uint8
	for i := 7; i >= 0; i-- {
		bit := (b >> uint(i)) & 1
		reduce := -(acc >> 7) & 0x1b
		acc = (-bit & a) ^ (reduce ^ (acc << 1))
	}
	return acc
}

// gfInv returns a^254, the inverse of a non-zero a.
func gfInv(a uint8) uint8 {
	r := uint8(1)
	base := a
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = gfMul(r, base)
		}
		base = gfMul(base, base)
	}
	return r
}

// shamirSplit splits secret into n shares, any k of which recover it.
func shamirSplit(secret []byte, n, k int) ([][]byte, error) {
	switch {
	case len(secret) == 0:
		return nil, errors.New("cannot split an empty secret")
	case k < 2 || k > 255:
		return nil, fmt.Errorf("shamir threshold %d: must be between 2 and 255", k)
	case n < k || n > 255:
		return nil, fmt.Errorf("%d key groups for a threshold of %d: need between the threshold and 255", n, k)
	}
	shares := make([][]byte, n)
	for i := range shares {
		shares[i] = make([]byte, len(secret)+1)
		shares[i][len(secret)] = uint8(i + 1)
	}
	coef := make([]byte, k)
	for idx, s := range secret {
		coef[0] = s
		if _, err := rand.Read(coef[1:]); err != nil {
			return nil, fmt.Errorf("random coefficients: %w", err)
		}
		for i := range n {
			x := uint8(i + 1)
			y := coef[k-1]
			for d := k - 2; d >= 0; d-- {
				y = gfMul(y, x) ^ coef[d]
			}
			shares[i][idx] = y
		}
	}
	clear(coef)
	return shares, nil
}

// shamirCombine recovers the secret from shares by Lagrange interpolation
// at x = 0.
func shamirCombine(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, errors.New("fewer than two shares")
	}
	size := len(shares[0])
	if size < 2 {
		return nil, errors.New("shares are shorter than two bytes")
	}
	xs := make([]uint8, len(shares))
	seen := map[uint8]bool{}
	for i, s := range shares {
		if len(s) != size {
			return nil, errors.New("shares differ in length")
		}
		x := s[size-1]
		if x == 0 || seen[x] {
			return nil, errors.New("duplicate or invalid share")
		}
		seen[x] = true
		xs[i] = x
	}
	secret := make([]byte, size-1)
	for idx := range secret {
		var acc uint8
		for i := range shares {
			basis := uint8(1)
			for j := range shares {
				if i == j {
					continue
				}
				// (0 - x_j) / (x_i - x_j); subtraction is xor.
				basis = gfMul(basis, gfMul(xs[j], gfInv(xs[i]^xs[j])))
			}
			acc ^= gfMul(shares[i][idx], basis)
		}
		secret[idx] = acc
	}
	return secret, nil
}
