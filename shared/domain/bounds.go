package domain

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/photon-cloud/photon/shared/errs"
)

// A Bound limits one field of a request: Len the bytes of a string (of each element of a
// list, of each key and value of a map), Items the elements of a list or map. Name says
// which name rule the field's value follows, if any.
type Bound struct {
	Len, Items int
	Name       NameRule
}

// NameRule is the rule a name field follows.
type NameRule int

// Name rules of Bound.Name.
const (
	NoRule    NameRule = iota
	NameRuled          // CheckName
	ImageName          // CheckImageName
)

// The bounds of every request, in one table. A field not named here has DefaultBound.
// Fields are named by their JSON name ("metadata") or, where one message's field differs,
// by message and JSON name ("ImageRegisterSpec.name").
var (
	DefaultBound = Bound{Len: 16 << 10, Items: 1000}
	Bounds       = map[string]Bound{
		"name":           {Len: MaxNameLen, Name: NameRuled},
		"description":    {Len: 1024},
		"metadata":       {Len: 1024, Items: 64},
		"tags":           {Len: 256, Items: 64},
		"usageTags":      {Len: 256, Items: 64},
		"environment":    {Len: 4096, Items: 64},
		"subnets":        {Len: 256, Items: 16},
		"affinities":     {Items: 32},
		"attachedDisks":  {Items: 16},
		"portGroups":     {Len: 256, Items: 64},
		"securityGroups": {Len: 256, Items: 64},
		"items":          {Len: 256, Items: 256},
		"roles":          {Len: 64, Items: 16},
		"types":          {Len: 256, Items: 64},
		"cost":           {Items: 64},
		"VmTag.value":    {Len: 256}, // one tag, as "tags" holds them
		// An image's name may be its file's name.
		"ImageRegisterSpec.name":        {Len: MaxImageNameLen, Name: ImageName},
		"CreateVmImageRequest.name":     {Len: MaxImageNameLen, Name: ImageName},
		"ListImagesRequest.name":        {Len: MaxImageNameLen},
		"ListProjectImagesRequest.name": {Len: MaxImageNameLen},
		// A user's or a group's name is a principal (alice@photon.local, photon.local\ops):
		// shared/auth checks its form.
		"CreateUserRequest.name":        {Len: principalLen},
		"UserRequest.name":              {Len: principalLen},
		"ResetUserPasswordRequest.name": {Len: principalLen},
		"CreateGroupRequest.name":       {Len: principalLen},
		"GroupRequest.name":             {Len: principalLen},
		"GroupMemberRequest.name":       {Len: principalLen},
		// A bulk create's name is a pattern ("db-{n}"): the API checks the names it makes.
		"VmCreateSpec.name": {Len: MaxNameLen + 3},
	}
)

// principalLen bounds a principal's name (auth.MaxNameLen).
const principalLen = 128

// boundOf is the bound of field f of message m.
func boundOf(m protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor) Bound {
	if b, ok := Bounds[string(m.Name())+"."+f.JSONName()]; ok {
		return b
	}
	b, ok := Bounds[f.JSONName()]
	if !ok {
		return DefaultBound
	}
	if b.Name != NoRule && strings.HasPrefix(string(m.Name()), "List") {
		b.Name = NoRule // a list's name filter finds what exists: only its length is bounded
	}
	if b.Len == 0 {
		b.Len = DefaultBound.Len
	}
	if b.Items == 0 {
		b.Items = DefaultBound.Items
	}
	return b
}

// CheckRequest checks every field of a request, nested messages included, against its
// Bound: the first field past its bound, or a name breaking its rule, is InvalidEntity
// naming the field.
func CheckRequest(m protoreflect.Message) error {
	return checkMessage(m, "")
}

func checkMessage(m protoreflect.Message, path string) error {
	var err error
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		err = checkField(m.Descriptor(), f, v, join(path, f.JSONName()))
		return err == nil
	})
	return err
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func checkField(md protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	b := boundOf(md, f)
	switch {
	case f.IsList():
		l := v.List()
		if l.Len() > b.Items {
			return errs.Invalid("%s has %d elements, at most %d", path, l.Len(), b.Items).WithData("field", path)
		}
		for i := range l.Len() {
			if err := checkValue(f, b, l.Get(i), path); err != nil {
				return err
			}
		}
	case f.IsMap():
		mp := v.Map()
		if mp.Len() > b.Items {
			return errs.Invalid("%s has %d entries, at most %d", path, mp.Len(), b.Items).WithData("field", path)
		}
		var err error
		mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			if len(k.String()) > b.Len {
				err = errs.Invalid("%s: a key is %d bytes long, at most %d", path, len(k.String()), b.Len).WithData("field", path)
				return false
			}
			err = checkValue(f.MapValue(), b, v, path+"."+k.String())
			return err == nil
		})
		return err
	default:
		return checkValue(f, b, v, path)
	}
	return nil
}

func checkValue(f protoreflect.FieldDescriptor, b Bound, v protoreflect.Value, path string) error {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(v.Message(), path)
	case protoreflect.StringKind, protoreflect.BytesKind:
		var n int
		if f.Kind() == protoreflect.StringKind {
			n = len(v.String())
		} else {
			n = len(v.Bytes())
		}
		if n > b.Len {
			return errs.Invalid("%s is %d bytes long, at most %d", path, n, b.Len).WithData("field", path)
		}
		switch b.Name {
		case NameRuled:
			return CheckName(path, v.String())
		case ImageName:
			return CheckImageName(path, v.String())
		}
	}
	return nil
}
