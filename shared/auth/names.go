package auth

import (
	"regexp"
	"unicode/utf8"

	"github.com/photon-cloud/photon/shared/errs"
)

// Names in the directory are principals as Photon's IAM policies and security groups
// name them (Lightwave's forms): a user is name@domain ("alice@photon.local"), a group
// is domain\name ("photon.local\ops", like SystemAdminsGroup). The two forms cannot be
// confused, so a policy entry names one or the other. Names compare exactly, as
// shared/policy compares them.
//
// The rules hold for what the API creates. The administrator that a gateway creates at
// start (Put, e.g. "admin") keeps whatever name it was given.

// MaxNameLen bounds a user's or a group's name, in bytes.
const MaxNameLen = 128

// Password bounds. bcrypt reads only the first 72 bytes of a password, so a longer one
// is refused rather than cut short in silence.
const (
	MinPasswordLen   = 8  // characters
	MaxPasswordBytes = 72 // bytes of UTF-8
)

// MaxDescriptionLen bounds a group's description, in bytes.
const MaxDescriptionLen = 1024

var (
	// A local part: a letter or digit, then letters, digits, dots, dashes and
	// underscores; at most 64 bytes, as in an e-mail address.
	local = `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`
	// A domain: DNS labels of letters, digits and inner dashes, joined by dots.
	domain    = `[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*`
	userName  = regexp.MustCompile(`^` + local + `@` + domain + `$`)
	groupName = regexp.MustCompile(`^` + domain + `\\` + local + `$`)
)

// CheckUserName refuses a name that is not name@domain or is longer than MaxNameLen.
func CheckUserName(name string) error {
	if len(name) > MaxNameLen || !userName.MatchString(name) {
		return errs.Invalid("user name %s: want name@domain (e.g. alice@photon.local) of letters, digits, '.', '-' and '_', at most %d characters",
			quoteName(name), MaxNameLen).WithData("field", "name")
	}
	return nil
}

// CheckGroupName refuses a name that is not domain\name or is longer than MaxNameLen.
func CheckGroupName(name string) error {
	if len(name) > MaxNameLen || !groupName.MatchString(name) {
		return errs.Invalid(`group name %s: want domain\name (e.g. photon.local\ops) of letters, digits, '.', '-' and '_', at most %d characters`,
			quoteName(name), MaxNameLen).WithData("field", "name")
	}
	return nil
}

// CheckPassword refuses a password shorter than MinPasswordLen characters, longer than
// MaxPasswordBytes bytes, or not UTF-8.
func CheckPassword(password string) error {
	switch {
	case !utf8.ValidString(password):
		return errs.Invalid("the password is not valid UTF-8").WithData("field", "password")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return errs.Invalid("the password is too short: at least %d characters", MinPasswordLen).WithData("field", "password")
	case len(password) > MaxPasswordBytes:
		return errs.Invalid("the password is too long: at most %d bytes (bcrypt reads no further)", MaxPasswordBytes).WithData("field", "password")
	}
	return nil
}

// quoteName quotes a name for an error message, cut short when it is long.
func quoteName(name string) string { return quote(shorten(name)) }

// shorten cuts a name longer than MaxNameLen short, for an error message.
func shorten(name string) string {
	if len(name) > MaxNameLen {
		return name[:MaxNameLen] + "..."
	}
	return name
}
