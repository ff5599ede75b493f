package domain

import (
	"regexp"
	"unicode/utf8"

	"github.com/photon-cloud/photon/shared/errs"
)

// Name rules. Photon Controller's names were a letter, then letters, digits and dashes,
// at most 63 characters; so are every name here (tenant, project, flavor, VM, disk,
// router, subnet, zone, rule, ...) except an image's. An image is named by its file when
// uploaded ("tty_tiny.ova"), so its name may also hold dots and underscores and start
// with a digit, up to MaxImageNameLen.
const (
	MaxNameLen      = 63
	MaxImageNameLen = 255
)

var (
	namePattern      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	imageNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// CheckName checks a name against Photon's rule; a refusal is InvalidEntity naming field.
func CheckName(field, name string) error {
	return checkName(field, name, namePattern, MaxNameLen,
		"a letter, then letters, digits and dashes")
}

// CheckImageName checks an image's name; a refusal is InvalidEntity naming field.
func CheckImageName(field, name string) error {
	return checkName(field, name, imageNamePattern, MaxImageNameLen,
		"a letter or digit, then letters, digits, dots, dashes and underscores")
}

func checkName(field, name string, rule *regexp.Regexp, maxLen int, says string) error {
	switch {
	case name == "":
		return errs.Invalid("%s is required", field).WithData("field", field)
	case len(name) > maxLen:
		return errs.Invalid("%s is %d characters long, at most %d", field, utf8.RuneCountInString(name), maxLen).WithData("field", field)
	case !rule.MatchString(name):
		return errs.Invalid("%s %q must be %s, at most %d characters", field, name, says, maxLen).WithData("field", field)
	}
	return nil
}
