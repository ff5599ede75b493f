package client

import (
	"context"
	"encoding/json"
	"net/url"
)

// User is a user of the embedded directory; its name is its principal
// (e.g. alice@photon.local).
type User struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
	Kind   string   `json:"kind,omitempty"`
}

// Group is a group of the embedded directory; IAM policies name it as they name users.
type Group struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"`
	Kind        string   `json:"kind,omitempty"`
}

type page[T any] struct {
	Items        []T    `json:"items"`
	NextPageLink string `json:"nextPageLink"`
}

func (c *Client) jsonCall(ctx context.Context, method, path string, in, out any) error {
	r := request{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.contentType = b, "application/json"
	}
	return c.send(ctx, r, out)
}

func jsonList[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var all []T
	for path != "" {
		var p page[T]
		if err := c.jsonCall(ctx, "GET", path, nil, &p); err != nil {
			return all, err
		}
		all = append(all, p.Items...)
		path = p.NextPageLink
	}
	return all, nil
}

// Users and groups (system administrators; Me and ChangePassword are the caller's own).

func (c *Client) CreateUser(ctx context.Context, name, password string, groups []string) (*User, error) {
	u := &User{}
	return u, c.jsonCall(ctx, "POST", "/v1/system/users", map[string]any{"name": name, "password": password, "groups": groups}, u)
}
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	return jsonList[User](ctx, c, "/v1/system/users")
}
func (c *Client) GetUser(ctx context.Context, name string) (*User, error) {
	u := &User{}
	return u, c.jsonCall(ctx, "GET", "/v1/system/users/"+url.PathEscape(name), nil, u)
}
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.jsonCall(ctx, "DELETE", "/v1/system/users/"+url.PathEscape(name), nil, nil)
}
func (c *Client) ResetPassword(ctx context.Context, name, password string) error {
	return c.jsonCall(ctx, "POST", "/v1/system/users/"+url.PathEscape(name)+"/password", map[string]string{"password": password}, nil)
}
func (c *Client) Me(ctx context.Context) (*User, error) {
	u := &User{}
	return u, c.jsonCall(ctx, "GET", "/v1/user", nil, u)
}
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.jsonCall(ctx, "POST", "/v1/user/password", map[string]string{"currentPassword": current, "newPassword": next}, nil)
}
func (c *Client) CreateGroup(ctx context.Context, name, description string) (*Group, error) {
	g := &Group{}
	return g, c.jsonCall(ctx, "POST", "/v1/system/groups", map[string]string{"name": name, "description": description}, g)
}
func (c *Client) ListGroups(ctx context.Context) ([]Group, error) {
	return jsonList[Group](ctx, c, "/v1/system/groups")
}
func (c *Client) GetGroup(ctx context.Context, name string) (*Group, error) {
	g := &Group{}
	return g, c.jsonCall(ctx, "GET", "/v1/system/groups/"+url.PathEscape(name), nil, g)
}
func (c *Client) DeleteGroup(ctx context.Context, name string) error {
	return c.jsonCall(ctx, "DELETE", "/v1/system/groups/"+url.PathEscape(name), nil, nil)
}
func (c *Client) AddGroupMember(ctx context.Context, group, user string) (*Group, error) {
	g := &Group{}
	return g, c.jsonCall(ctx, "POST", "/v1/system/groups/"+url.PathEscape(group)+"/members", map[string]string{"user": user}, g)
}
func (c *Client) RemoveGroupMember(ctx context.Context, group, user string) (*Group, error) {
	g := &Group{}
	return g, c.jsonCall(ctx, "DELETE", "/v1/system/groups/"+url.PathEscape(group)+"/members/"+url.PathEscape(user), nil, g)
}
