package sops

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// A value's ciphertext: ENC[AES256_GCM,data:…,iv:…,tag:…,type:…], the
// AES-256-GCM sealing of its text with the value's path ("a:b:") as
// additional data, and a 32-byte nonce.
const encPrefix = "ENC[AES256_GCM,"

var encRE = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

const nonceSize = 32

var errValueFormat = errors.New("value is not in the SOPS ciphertext format")

// errAuth: a value does not authenticate under the data key and its path.
var errAuth = errors.New("value does not authenticate (wrong data key, or the value or its key was changed)")

func newGCM(key []byte, nonce int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	if nonce < 1 || nonce > 1024 {
		return nil, fmt.Errorf("nonce of %d bytes", nonce)
	}
	return cipher.NewGCMWithNonceSize(block, nonce)
}

// decryptValue opens one value. An empty string is the empty string, as
// sops writes it.
func decryptValue(s string, key []byte, aad string) (any, error) {
	if s == "" {
		return "", nil
	}
	m := encRE.FindStringSubmatch(s)
	if m == nil {
		return nil, errValueFormat
	}
	data, err1 := base64.StdEncoding.DecodeString(m[1])
	iv, err2 := base64.StdEncoding.DecodeString(m[2])
	tag, err3 := base64.StdEncoding.DecodeString(m[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: bad base64", errValueFormat)
	}
	gcm, err := newGCM(key, len(iv))
	if err != nil {
		return nil, err
	}
	sealed := make([]byte, 0, len(data)+len(tag))
	sealed = append(append(sealed, data...), tag...)
	if len(sealed) < gcm.Overhead() {
		return nil, errAuth
	}
	plain, err := gcm.Open(nil, iv, sealed, []byte(aad))
	if err != nil {
		return nil, errAuth
	}
	text := string(plain)
	switch m[4] {
	case "str":
		return text, nil
	case "int":
		n, err := strconv.Atoi(text)
		if err != nil {
			return nil, errors.New("value of type int does not parse")
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, errors.New("value of type float does not parse")
		}
		return f, nil
	case "bytes":
		return plain, nil
	case "bool":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, errors.New("value of type bool does not parse")
		}
		return b, nil
	case "time":
		var t time.Time
		if err := t.UnmarshalText(plain); err != nil {
			return nil, errors.New("value of type time does not parse")
		}
		return t, nil
	case "comment":
		return comment{value: text}, nil
	default:
		return nil, fmt.Errorf("unknown value type %q", truncate(m[4], 20))
	}
}

// encryptValue seals one value with a fresh nonce. The empty string stays
// empty, as sops leaves it.
func encryptValue(v any, key []byte, aad string) (string, error) {
	var plain []byte
	var typ string
	switch v := v.(type) {
	case string:
		if v == "" {
			return "", nil
		}
		typ, plain = "str", []byte(v)
	case int:
		typ, plain = "int", []byte(strconv.Itoa(v))
	case float64:
		typ, plain = "float", []byte(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		typ, plain = "bool", []byte("False")
		if v {
			plain = []byte("True")
		}
	case time.Time:
		b, err := v.MarshalText()
		if err != nil {
			return "", errors.New("timestamp does not marshal")
		}
		typ, plain = "time", b
	case comment:
		if v.value == "" {
			return "", nil
		}
		typ, plain = "comment", []byte(v.value)
	default:
		return "", fmt.Errorf("cannot encrypt a value of type %T", v)
	}
	iv := make([]byte, nonceSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("random nonce: %w", err)
	}
	gcm, err := newGCM(key, nonceSize)
	if err != nil {
		return "", err
	}
	out := gcm.Seal(nil, iv, plain, []byte(aad))
	n := len(out) - gcm.Overhead()
	enc := base64.StdEncoding
	return "ENC[AES256_GCM,data:" + enc.EncodeToString(out[:n]) + ",iv:" + enc.EncodeToString(iv) +
		",tag:" + enc.EncodeToString(out[n:]) + ",type:" + typ + "]", nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
