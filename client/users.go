package client

import (
	"context"
	"encoding/json"
	"net/url"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
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

// Do calls any path of the API, for what has no typed call: in and out are proto
// messages, or values for encoding/json (a *json.RawMessage keeps the answer as it is).
// A mutating call carries an Idempotency-Key as the typed ones do.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	if m, ok := in.(interface{ ProtoReflect() protoreflect.Message }); ok {
		return c.call(ctx, method, path, nil, m, out)
	}
	return c.jsonCall(ctx, method, path, in, out)
}

// PublishEvent sends a CloudEvent to POST /v1/events (structured mode); data is its
// JSON payload. The answer is the task of what the event asked for.
func (c *Client) PublishEvent(ctx context.Context, typ, subject string, data json.RawMessage) (*pb.Task, error) {
	ev := map[string]any{"specversion": "1.0", "id": newKey(), "source": "photon-client", "type": typ}
	if subject != "" {
		ev["subject"] = subject
	}
	if len(data) > 0 {
		ev["datacontenttype"] = "application/json"
		ev["data"] = data
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	t := &pb.Task{}
	return t, c.send(ctx, request{method: "POST", path: "/v1/events", body: b, contentType: "application/cloudevents+json"}, t)
}
