package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/multiformats/go-multiaddr"
)

// Contact is a peer and the addresses it can be reached at. Addrs are
// transport addresses; each may also end in /p2p/<ID> as long as that is
// c.ID. A contact with no addresses is valid: the peer is known by ID only.
type Contact struct {
	ID    PeerID
	Addrs []multiaddr.Multiaddr
}

// ContactFromAddrs builds a contact from one or more addresses that all end
// in /p2p/<peer-id> with the same peer ID. The contact's Addrs are the
// addresses without that suffix.
func ContactFromAddrs(addrs ...string) (Contact, error) {
	if len(addrs) == 0 {
		return Contact{}, errors.New("identity: contact: no addresses")
	}
	var c Contact
	for _, s := range addrs {
		if err := c.addFullAddr(s); err != nil {
			return Contact{}, err
		}
	}
	return c, nil
}

// addFullAddr parses s, which must carry a /p2p/ peer ID matching c's (or
// set it if c has none yet), and appends its transport part.
func (c *Contact) addFullAddr(s string) error {
	m, err := ParseAddr(s)
	if err != nil {
		return fmt.Errorf("identity: contact: %w", err)
	}
	t, id, hasID, err := SplitPeer(m)
	if err != nil {
		return fmt.Errorf("identity: contact: %w", err)
	}
	if !hasID {
		return fmt.Errorf("identity: contact: address %s has no /p2p/<peer-id> suffix", quote(s))
	}
	if !c.ID.IsZero() && id != c.ID {
		return fmt.Errorf("identity: contact: address %s is for peer %s, but earlier addresses are for peer %s", quote(s), id, c.ID)
	}
	c.ID = id
	c.Addrs = append(c.Addrs, t)
	return nil
}

// ParseContact parses the form [Contact.String] produces: either a bare
// peer ID, or comma-separated addresses that each end in the same
// /p2p/<peer-id>. Spaces around addresses are ignored.
func ParseContact(s string) (Contact, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "/") {
		id, err := ParsePeerID(s)
		if err != nil {
			return Contact{}, fmt.Errorf("identity: contact: %w", err)
		}
		return Contact{ID: id}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return ContactFromAddrs(parts...)
}

// String returns the contact in the form [ParseContact] reads: its
// addresses, each ending in /p2p/<ID>, separated by commas; or just the peer
// ID if it has no addresses.
func (c Contact) String() string {
	if len(c.Addrs) == 0 {
		return c.ID.String()
	}
	parts := make([]string, len(c.Addrs))
	for i, a := range c.Addrs {
		parts[i] = c.fullAddr(a)
	}
	return strings.Join(parts, ",")
}

// fullAddr returns a as text ending in /p2p/<c.ID>.
func (c Contact) fullAddr(a multiaddr.Multiaddr) string {
	if n := len(a); n > 0 && a[n-1].Code() == multiaddr.P_P2P {
		a = a[:n-1]
	}
	if c.ID.IsZero() {
		return a.String()
	}
	return a.String() + "/p2p/" + c.ID.String()
}

// Validate checks that c has a peer ID and that every address is supported
// and, if it carries a /p2p/ peer ID, that it is c.ID.
func (c Contact) Validate() error {
	if c.ID.IsZero() {
		return errors.New("identity: contact has no peer ID")
	}
	for i, a := range c.Addrs {
		if err := c.validateAddr(a); err != nil {
			return fmt.Errorf("identity: contact %s: address %d: %w", c.ID, i, err)
		}
	}
	return nil
}

// validateAddr checks one of c's addresses.
func (c Contact) validateAddr(a multiaddr.Multiaddr) error {
	_, id, hasID, err := SplitPeer(a)
	if err != nil {
		return err
	}
	if hasID && id != c.ID {
		return fmt.Errorf("address %s is for peer %s", quote(a.String()), id)
	}
	return nil
}
