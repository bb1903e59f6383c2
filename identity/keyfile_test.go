package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/weftnet/weft/identity"
)

// skipOnWindows skips tests of Unix permission bits.
func skipOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("permission bits are not meaningful on Windows")
	}
}

// writeFile writes data to a new file in a temporary directory with mode
// perm (set with chmod, so the umask does not interfere).
func writeFile(t *testing.T, name string, data []byte, perm fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSaveLoadKeyFile(t *testing.T) {
	k := keyFromByte(t, 0x01)
	path := filepath.Join(t.TempDir(), "node.key")
	if err := identity.SaveKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("key file does not start with a PKCS#8 PEM header:\n%s", data)
	}
	loaded, err := identity.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Equal(k) {
		t.Error("loaded key differs from the saved key")
	}
}

func TestSaveKeyFileRefusesOverwrite(t *testing.T) {
	path := writeFile(t, "node.key", []byte("keep me"), 0o600)
	err := identity.SaveKeyFile(path, keyFromByte(t, 0x01))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("SaveKeyFile over an existing file: error = %v, want fs.ErrExist", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("error %q does not name the file and the refusal", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "keep me" {
		t.Errorf("existing file was changed to %q", data)
	}
}

func TestSaveKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := identity.SaveKeyFile(filepath.Join(dir, "zero.key"), identity.PrivateKey{}); !errors.Is(err, identity.ErrZeroKey) {
		t.Errorf("saving a zero key: error = %v, want ErrZeroKey", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "zero.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("saving a zero key created a file")
	}
	err := identity.SaveKeyFile(filepath.Join(dir, "missing", "x.key"), keyFromByte(t, 1))
	if err == nil || !strings.HasPrefix(err.Error(), "identity: ") {
		t.Errorf("saving into a missing directory: error = %v", err)
	}
}

func TestLoadKeyFileMode(t *testing.T) {
	skipOnWindows(t)
	k := keyFromByte(t, 0x02)
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o666, 0o700 | 0o004} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.key")
			if err := identity.SaveKeyFile(path, k); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := identity.LoadKeyFile(path)
			var modeErr *identity.KeyFileModeError
			if !errors.As(err, &modeErr) || !errors.Is(err, identity.ErrKeyFileMode) {
				t.Fatalf("error = %v, want a *KeyFileModeError matching ErrKeyFileMode", err)
			}
			if modeErr.Path != path || modeErr.Mode != mode {
				t.Errorf("KeyFileModeError = %+v, want path %s mode %04o", modeErr, path, mode)
			}
			for _, want := range []string{path, fmt.Sprintf("mode %04o", mode), "chmod 600 " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadKeyFileModeMessage(t *testing.T) {
	err := &identity.KeyFileModeError{Path: "/x/key", Mode: 0o644}
	want := `identity: key file "/x/key" has mode 0644: it must not be readable or writable by group or others; run: chmod 600 /x/key`
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
	err = &identity.KeyFileModeError{Path: "/my keys/it's", Mode: 0o640}
	if !strings.HasSuffix(err.Error(), `chmod 600 '/my keys/it'\''s'`) {
		t.Errorf("path with spaces and quotes is not shell-quoted: %s", err)
	}
}

func TestLoadKeyFileOwnerOnlyModes(t *testing.T) {
	skipOnWindows(t)
	k := keyFromByte(t, 0x03)
	for _, mode := range []fs.FileMode{0o600, 0o400} {
		path := filepath.Join(t.TempDir(), "node.key")
		if err := identity.SaveKeyFile(path, k); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if got, err := identity.LoadKeyFile(path); err != nil || !got.Equal(k) {
			t.Errorf("mode %04o: LoadKeyFile = %v", mode, err)
		}
	}
}

// RFC 8410, section 10.3: an Ed25519 private key in PKCS#8 as OpenSSL
// writes it.
const rfc8410Key = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
-----END PRIVATE KEY-----
`

func TestLoadKeyFileStandardPKCS8(t *testing.T) {
	k, err := identity.LoadKeyFile(writeFile(t, "openssl.key", []byte(rfc8410Key), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	const wantSeed = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
	if got := hex.EncodeToString(k.Seed()); got != wantSeed {
		t.Errorf("seed = %s, want %s", got, wantSeed)
	}
}

// pemFile encodes one PEM block.
func pemFile(typ string, headers map[string]string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

func TestLoadKeyFileCorrupt(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(rfc8410Key))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no PEM block found"},
		{"garbage", []byte("not a key at all"), "no PEM block found"},
		{"wrong type", pemFile("RSA PRIVATE KEY", nil, block.Bytes), `PEM block type is "RSA PRIVATE KEY"`},
		{"not PKCS#8", pemFile("PRIVATE KEY", nil, []byte("junk")), "not a PKCS#8 private key"},
		{"truncated DER", pemFile("PRIVATE KEY", nil, block.Bytes[:20]), "not a PKCS#8 private key"},
		{"ECDSA key", pemFile("PRIVATE KEY", nil, ecDER), "want an Ed25519 key"},
		{"PEM headers", pemFile("PRIVATE KEY", map[string]string{"Proc-Type": "4,ENCRYPTED"}, block.Bytes), "PEM headers"},
		{"trailing data", append([]byte(rfc8410Key), "extra"...), "unexpected data after the PEM block"},
		{"two keys", []byte(rfc8410Key + rfc8410Key), "unexpected data after the PEM block"},
		{"too large", append([]byte(rfc8410Key), make([]byte, identity.MaxKeyFileSize)...), "65536-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "node.key", tt.data, 0o600)
			_, err := identity.LoadKeyFile(path)
			if !errors.Is(err, identity.ErrInvalidKeyFile) {
				t.Fatalf("error = %v, want ErrInvalidKeyFile", err)
			}
			if !strings.HasPrefix(err.Error(), "identity: key file "+fmt.Sprintf("%q", path)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want the path and %q", err, tt.want)
			}
		})
	}
}

func TestLoadKeyFileNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := identity.LoadKeyFile(filepath.Join(dir, "missing.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.LoadKeyFile(dir); !errors.Is(err, identity.ErrInvalidKeyFile) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: error = %v, want not a regular file", err)
	}
}
