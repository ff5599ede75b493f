package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// The directory: users and groups, what Lightwave's directory gave Photon.
//
// A user is a hash at prefix+"user:"+name (its password hash and its groups, a JSON
// array), a group a hash at prefix+"group:"+name (its description and its members, a
// JSON array). Sorted sets at prefix+"users" and prefix+"groups" index both by name,
// for lists in pages. Membership is written on both sides, and every change is one Lua
// script: a member is in the group's list exactly when the group is in the member's,
// whatever crashes between two calls. The scripts build the keys from the prefix they
// are given, since the groups a change touches are known only once the user is read;
// Photon's Redis is one server (or a primary with replicas), never a sharded cluster.
//
// Every group in a user's groups is a group of the directory: Put makes the groups it
// names, Create refuses groups that do not exist.

// User is a user of the directory, without its password.
type User struct {
	Name   string
	Groups []string
}

// Group is a group of the directory.
type Group struct {
	Name        string
	Description string
	Members     []string // sorted
}

// Fields of a group's hash.
const (
	fieldDescription = "description"
	fieldMembers     = "members"
)

func (u *Users) groupKey(name string) string { return u.prefix + "group:" + name }
func (u *Users) usersIdx() string            { return u.prefix + "users" }
func (u *Users) groupsIdx() string           { return u.prefix + "groups" }

// errGone is putUser's answer when the user it was to keep the password of is gone.
var errGone = errors.New("auth: the user was deleted meanwhile")

// Modes of putUser.
const (
	modeCreate = "create" // a new user: refuse a taken name or a group that does not exist
	modePut    = "put"    // create or update: make the groups that do not exist
)

// luaLib is the start of every directory script: ARGV[1] is the prefix, ARGV[2] the
// user or group the script is about. Lists are JSON arrays; an empty one is written
// "[]", since cjson writes an empty table as "{}".
const luaLib = `
local P, NAME = ARGV[1], ARGV[2]
local function list(s)
	if not s or s == '' then return {} end
	local t = cjson.decode(s)
	if type(t) ~= 'table' then return {} end
	return t
end
local function enc(t)
	if #t == 0 then return '[]' end
	return cjson.encode(t)
end
local function add(key, field, v)
	local t = list(redis.call('HGET', key, field))
	for _, x in ipairs(t) do if x == v then return end end
	t[#t + 1] = v
	redis.call('HSET', key, field, enc(t))
end
local function remove(key, field, v)
	if redis.call('EXISTS', key) == 0 then return end
	local t, out = list(redis.call('HGET', key, field)), {}
	for _, x in ipairs(t) do if x ~= v then out[#out + 1] = x end end
	redis.call('HSET', key, field, enc(out))
end
local function ukey(n) return P .. 'user:' .. n end
local function gkey(n) return P .. 'group:' .. n end
local function link(user, group)
	add(ukey(user), 'groups', group)
	add(gkey(group), 'members', user)
end
local function unlink(user, group)
	remove(ukey(user), 'groups', group)
	remove(gkey(group), 'members', user)
end
local function makeGroup(g, description)
	redis.call('HSET', gkey(g), 'description', description, 'members', '[]')
	redis.call('ZADD', P .. 'groups', 0, g)
end
`

// putUser: ARGV[3] the mode, ARGV[4] the password hash ("" keeps the user's), ARGV[5..]
// the groups to add the user to.
var putUser = redis.NewScript(luaLib + `
local mode, hash = ARGV[3], ARGV[4]
local exists = redis.call('EXISTS', ukey(NAME)) == 1
if exists and mode == 'create' then return 'taken user' end
if not exists and hash == '' then return 'gone' end
for i = 5, #ARGV do
	if redis.call('EXISTS', gkey(ARGV[i])) == 0 then
		if mode == 'create' then return 'no group ' .. ARGV[i] end
		makeGroup(ARGV[i], '')
	end
end
if hash ~= '' then redis.call('HSET', ukey(NAME), 'password', hash) end
if not exists then redis.call('HSET', ukey(NAME), 'groups', '[]') end
redis.call('ZADD', P .. 'users', 0, NAME)
-- A user written before groups had records of their own names groups that have none.
for _, g in ipairs(list(redis.call('HGET', ukey(NAME), 'groups'))) do
	if redis.call('EXISTS', gkey(g)) == 0 then makeGroup(g, '') end
	add(gkey(g), 'members', NAME)
end
for i = 5, #ARGV do link(NAME, ARGV[i]) end
return 'ok'
`)

// deleteUser takes the user out of its groups and deletes it.
var deleteUser = redis.NewScript(luaLib + `
if redis.call('EXISTS', ukey(NAME)) == 0 then return 'no user ' .. NAME end
for _, g in ipairs(list(redis.call('HGET', ukey(NAME), 'groups'))) do remove(gkey(g), 'members', NAME) end
redis.call('DEL', ukey(NAME))
redis.call('ZREM', P .. 'users', NAME)
return 'ok'
`)

// setPassword: ARGV[3] the new hash.
var setPassword = redis.NewScript(luaLib + `
if redis.call('EXISTS', ukey(NAME)) == 0 then return 'no user ' .. NAME end
redis.call('HSET', ukey(NAME), 'password', ARGV[3])
return 'ok'
`)

// createGroup: ARGV[3] the description.
var createGroup = redis.NewScript(luaLib + `
if redis.call('EXISTS', gkey(NAME)) == 1 then return 'taken group' end
makeGroup(NAME, ARGV[3])
return 'ok'
`)

// deleteGroup takes the group's members out of it and deletes it.
var deleteGroup = redis.NewScript(luaLib + `
if redis.call('EXISTS', gkey(NAME)) == 0 then return 'no group ' .. NAME end
for _, m in ipairs(list(redis.call('HGET', gkey(NAME), 'members'))) do remove(ukey(m), 'groups', NAME) end
redis.call('DEL', gkey(NAME))
redis.call('ZREM', P .. 'groups', NAME)
return 'ok'
`)

// setMember adds a user to a group or takes it out: NAME is the group, ARGV[3] the
// user, ARGV[4] "add" or "remove".
var setMember = redis.NewScript(luaLib + `
if redis.call('EXISTS', gkey(NAME)) == 0 then return 'no group ' .. NAME end
if redis.call('EXISTS', ukey(ARGV[3])) == 0 then return 'no user ' .. ARGV[3] end
if ARGV[4] == 'add' then link(ARGV[3], NAME) else unlink(ARGV[3], NAME) end
return 'ok'
`)

// write runs one of the directory's scripts about name and turns its answer into an
// error: NotFound, NameTaken, errGone or a wrapped Redis error.
func (u *Users) write(ctx context.Context, s *redis.Script, name string, args ...string) error {
	argv := make([]any, 0, 2+len(args))
	argv = append(argv, u.prefix, name)
	for _, a := range args {
		argv = append(argv, a)
	}
	// The scripts build their keys from the prefix; the users index, in the same slot,
	// is named so that a cluster runs them on the node of the auth key space.
	res, err := s.Run(ctx, u.rdb, []string{u.usersIdx()}, argv...).Text()
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	switch what, who, _ := strings.Cut(res, " "); what {
	case "ok":
		return nil
	case "gone":
		return errGone
	case "taken":
		return errs.New(errs.CodeNameTaken, "a %s named %s exists already", who, name).WithData("name", name)
	case "no":
		kind, n, _ := strings.Cut(who, " ")
		return errs.NotFound(strings.ToUpper(kind[:1])+kind[1:], n)
	}
	return fmt.Errorf("directory: unexpected answer %q", res)
}

// Create makes a user with the API's rules: a name@domain name not taken, a password of
// CheckPassword's rule, and groups that exist.
func (u *Users) Create(ctx context.Context, name, password string, groups []string) (User, error) {
	if err := CheckUserName(name); err != nil {
		return User{}, err
	}
	if err := CheckPassword(password); err != nil {
		return User{}, err
	}
	groups = compact(groups)
	for _, g := range groups {
		if len(g) > MaxNameLen {
			return User{}, errs.NotFound("Group", shorten(g))
		}
	}
	hash, err := u.hash(password)
	if err != nil {
		return User{}, err
	}
	if err := u.write(ctx, putUser, name, append([]string{modeCreate, hash}, groups...)...); err != nil {
		return User{}, err
	}
	return User{Name: name, Groups: groups}, nil
}

// compact is groups sorted, without repeats or empty names.
func compact(groups []string) []string {
	out := slices.DeleteFunc(slices.Clone(groups), func(g string) bool { return g == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// Get reads a user; NotFound when there is none.
func (u *Users) Get(ctx context.Context, name string) (User, error) {
	p, hash, err := u.get(ctx, name)
	if err != nil {
		return User{}, err
	}
	if hash == "" {
		return User{}, errs.NotFound("User", shorten(name))
	}
	return User{Name: p.Subject, Groups: p.Groups}, nil
}

// List reads one page of users by name: at most size (the store's DefaultPageSize when
// 0, at most its MaxPageSize) after the cursor ("" for the first page), and the cursor of the next
// page ("" on the last).
func (u *Users) List(ctx context.Context, size int, cursor string) ([]User, string, error) {
	names, next, err := u.page(ctx, u.usersIdx(), size, cursor)
	if err != nil {
		return nil, "", err
	}
	cmds, err := u.pipelineHGet(ctx, names, u.key, fieldGroups)
	if err != nil {
		return nil, "", err
	}
	out := make([]User, 0, len(names))
	for i, c := range cmds {
		gs, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue // deleted since the page was read
		}
		us := User{Name: names[i]}
		if err := decodeList(gs, &us.Groups); err != nil {
			return nil, "", fmt.Errorf("read user %s: %w", names[i], err)
		}
		out = append(out, us)
	}
	return out, next, nil
}

// CreateGroup makes a group with no members: a domain\name name not taken and a
// description of at most MaxDescriptionLen bytes.
func (u *Users) CreateGroup(ctx context.Context, name, description string) (Group, error) {
	if err := CheckGroupName(name); err != nil {
		return Group{}, err
	}
	if len(description) > MaxDescriptionLen {
		return Group{}, errs.Invalid("the description is %d bytes long: at most %d", len(description), MaxDescriptionLen).WithData("field", "description")
	}
	if err := u.write(ctx, createGroup, name, description); err != nil {
		return Group{}, err
	}
	return Group{Name: name, Description: description, Members: []string{}}, nil
}

// GetGroup reads a group; NotFound when there is none.
func (u *Users) GetGroup(ctx context.Context, name string) (Group, error) {
	vals, err := u.rdb.HMGet(ctx, u.groupKey(name), fieldDescription, fieldMembers).Result()
	if err != nil {
		return Group{}, fmt.Errorf("read group %s: %w", name, err)
	}
	members, ok := vals[1].(string)
	if !ok {
		return Group{}, errs.NotFound("Group", shorten(name))
	}
	g := Group{Name: name}
	g.Description, _ = vals[0].(string)
	if err := decodeList(members, &g.Members); err != nil {
		return Group{}, fmt.Errorf("read group %s: %w", name, err)
	}
	slices.Sort(g.Members)
	return g, nil
}

// ListGroups is List for groups.
func (u *Users) ListGroups(ctx context.Context, size int, cursor string) ([]Group, string, error) {
	names, next, err := u.page(ctx, u.groupsIdx(), size, cursor)
	if err != nil {
		return nil, "", err
	}
	pipe := u.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.HMGet(ctx, u.groupKey(n), fieldDescription, fieldMembers)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, "", fmt.Errorf("list groups: %w", err)
	}
	out := make([]Group, 0, len(names))
	for i, c := range cmds {
		vals := c.Val()
		members, ok := vals[1].(string)
		if !ok {
			continue // deleted since the page was read
		}
		g := Group{Name: names[i]}
		g.Description, _ = vals[0].(string)
		if err := decodeList(members, &g.Members); err != nil {
			return nil, "", fmt.Errorf("read group %s: %w", names[i], err)
		}
		slices.Sort(g.Members)
		out = append(out, g)
	}
	return out, next, nil
}

// DeleteGroup deletes a group; its members lose it. SystemAdminsGroup is built in (the
// policy names it) and cannot be deleted.
func (u *Users) DeleteGroup(ctx context.Context, name string) error {
	if name == SystemAdminsGroup {
		return errs.New(errs.CodeStateError, "%s is built in: take its members out instead", name)
	}
	return u.write(ctx, deleteGroup, name)
}

// AddMember makes user a member of group, and answers the group. Both must exist; a
// member already is left so.
func (u *Users) AddMember(ctx context.Context, group, user string) (Group, error) {
	if err := u.write(ctx, setMember, group, user, "add"); err != nil {
		return Group{}, err
	}
	return u.GetGroup(ctx, group)
}

// RemoveMember takes user out of group, and answers the group. Both must exist; a user
// that is not a member is left so.
func (u *Users) RemoveMember(ctx context.Context, group, user string) (Group, error) {
	if err := u.write(ctx, setMember, group, user, "remove"); err != nil {
		return Group{}, err
	}
	return u.GetGroup(ctx, group)
}

// page reads one page of names from the index at key (see List).
func (u *Users) page(ctx context.Context, key string, size int, cursor string) ([]string, string, error) {
	if size <= 0 {
		size = store.DefaultPageSize
	}
	size = min(size, store.MaxPageSize)
	start := "-"
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) > MaxNameLen*4 {
			return nil, "", errs.Invalid("invalid page link")
		}
		start = "(" + string(b)
	}
	names, err := u.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: "+", ByLex: true, Count: int64(size + 1)}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", key, err)
	}
	next := ""
	if len(names) > size {
		names = names[:size]
		next = base64.RawURLEncoding.EncodeToString([]byte(names[size-1]))
	}
	return names, next, nil
}

// pipelineHGet reads field of the hash of each name in one round trip.
func (u *Users) pipelineHGet(ctx context.Context, names []string, key func(string) string, field string) ([]*redis.StringCmd, error) {
	pipe := u.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.HGet(ctx, key(n), field)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return cmds, nil
}

// decodeList reads a JSON array of names ("" is none).
func decodeList(s string, out *[]string) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), out)
}
