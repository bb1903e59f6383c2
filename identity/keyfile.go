package identity

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// MaxKeyFileSize is the largest key file [LoadKeyFile] reads. A weft key
// file is about 120 bytes.
const MaxKeyFileSize = 64 << 10

// keyFilePEMType is the PEM block type of a PKCS#8 private key.
const keyFilePEMType = "PRIVATE KEY"

// keyFilePerm is the mode SaveKeyFile creates key files with.
const keyFilePerm fs.FileMode = 0o600

var (
	// ErrKeyFileMode is matched (with errors.Is) by a [*KeyFileModeError].
	ErrKeyFileMode = errors.New("identity: key file is accessible by group or others")

	// ErrInvalidKeyFile is matched (with errors.Is) by the errors
	// [LoadKeyFile] returns for a file whose contents are not a weft key:
	// not PEM, not PKCS#8, not Ed25519, too large.
	ErrInvalidKeyFile = errors.New("identity: invalid key file")
)

// KeyFileModeError is returned by [LoadKeyFile] for a key file that group or
// others may read or write. It matches [ErrKeyFileMode].
type KeyFileModeError struct {
	Path string      // the key file
	Mode fs.FileMode // its permission bits
}

// Error says what is wrong and how to fix it.
func (e *KeyFileModeError) Error() string {
	return fmt.Sprintf("identity: key file %q has mode %04o: it must not be readable or writable by group or others; run: chmod 600 %s",
		e.Path, uint32(e.Mode.Perm()), shellQuote(e.Path))
}

// Unwrap lets errors.Is match ErrKeyFileMode.
func (e *KeyFileModeError) Unwrap() error { return ErrKeyFileMode }

// keyFileError reports a key file whose contents are unusable.
type keyFileError struct {
	path   string
	reason string
}

// Error implements error.
func (e *keyFileError) Error() string {
	return fmt.Sprintf("identity: key file %q: %s", e.path, e.reason)
}

// Unwrap lets errors.Is match ErrInvalidKeyFile.
func (e *keyFileError) Unwrap() error { return ErrInvalidKeyFile }

// keyFileExistsError reports a refusal to overwrite a key file.
type keyFileExistsError struct{ path string }

// Error implements error.
func (e *keyFileExistsError) Error() string {
	return fmt.Sprintf("identity: key file %q already exists; refusing to overwrite it", e.path)
}

// Unwrap lets errors.Is match fs.ErrExist.
func (e *keyFileExistsError) Unwrap() error { return fs.ErrExist }

// SaveKeyFile writes k to a new file at path as a PEM-encoded PKCS#8 private
// key ("-----BEGIN PRIVATE KEY-----"), created with mode 0600. It never
// overwrites: if path exists it returns an error matching fs.ErrExist.
func SaveKeyFile(path string, k PrivateKey) error {
	data, err := encodeKeyPEM(k)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFilePerm)
	if errors.Is(err, fs.ErrExist) {
		return &keyFileExistsError{path}
	}
	if err != nil {
		return fmt.Errorf("identity: save key file: %w", err)
	}
	if err := writeAndClose(f, data); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("identity: save key file %q: %w", path, err)
	}
	return nil
}

// encodeKeyPEM encodes k as a PKCS#8 PEM block.
func encodeKeyPEM(k PrivateKey) ([]byte, error) {
	if k.IsZero() {
		return nil, fmt.Errorf("identity: save key file: %w", ErrZeroKey)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("identity: save key file: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: keyFilePEMType, Bytes: der}), nil
}

// writeAndClose writes data to f, flushes it to disk and closes f.
func writeAndClose(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadKeyFile reads a key file written by [SaveKeyFile] (any PEM-encoded
// PKCS#8 Ed25519 private key). It refuses, with a [*KeyFileModeError], a
// file that group or others may read or write (this check is skipped on
// Windows, whose permission bits do not say that). Files that are not a
// usable key give errors matching [ErrInvalidKeyFile].
func LoadKeyFile(path string) (PrivateKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return PrivateKey{}, err
	}
	k, reason := decodeKeyPEM(data)
	if reason != "" {
		return PrivateKey{}, &keyFileError{path, reason}
	}
	return k, nil
}

// readKeyFile checks the file's type, mode and size and returns its bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identity: load key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: load key file: %w", err)
	}
	if err := checkKeyFileInfo(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("identity: load key file %q: %w", path, err)
	}
	if len(data) > MaxKeyFileSize {
		return nil, tooLargeError(path)
	}
	return data, nil
}

// checkKeyFileInfo refuses non-regular, too open and too large files.
func checkKeyFileInfo(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &keyFileError{path, "not a regular file"}
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return &KeyFileModeError{Path: path, Mode: fi.Mode().Perm()}
	}
	if fi.Size() > MaxKeyFileSize {
		return tooLargeError(path)
	}
	return nil
}

// tooLargeError reports a key file over MaxKeyFileSize.
func tooLargeError(path string) error {
	return &keyFileError{path, fmt.Sprintf("larger than the %d-byte limit for key files", MaxKeyFileSize)}
}

// decodeKeyPEM parses a PKCS#8 PEM Ed25519 key; on failure it returns why.
func decodeKeyPEM(data []byte) (PrivateKey, string) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return PrivateKey{}, "no PEM block found"
	case block.Type != keyFilePEMType:
		return PrivateKey{}, fmt.Sprintf("PEM block type is %q, want %q", block.Type, keyFilePEMType)
	case len(block.Headers) != 0:
		return PrivateKey{}, "PEM headers (such as encryption) are not supported"
	case strings.TrimSpace(string(rest)) != "":
		return PrivateKey{}, "unexpected data after the PEM block"
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return PrivateKey{}, "not a PKCS#8 private key: " + err.Error()
	}
	ed, ok := key.(ed25519.PrivateKey)
	if !ok {
		return PrivateKey{}, fmt.Sprintf("holds a %T, want an Ed25519 key", key)
	}
	k, err := NewKeyFromSeed(ed.Seed())
	if err != nil {
		return PrivateKey{}, err.Error()
	}
	return k, ""
}

// shellQuote quotes path for a POSIX shell command line when needed.
func shellQuote(path string) string {
	safe := path != "" && strings.IndexFunc(path, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r))
	}) < 0
	if safe {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
