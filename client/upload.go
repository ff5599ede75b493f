package client

import (
	"context"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// UploadImage uploads a .vmdk or .ova file as Photon's SDK did (multipart form fields
// "ImageReplication" and "name", then the part "file"), streaming it from disk; each
// attempt reopens the file. name "" keeps the file's name; replication "" is the
// server's default. projectID "" makes a public image (system administrators),
// else the image is the project's.
func (c *Client) UploadImage(ctx context.Context, path, name, replication, projectID string) (*pb.Task, error) {
	target := "/v1/images"
	if projectID != "" {
		target = "/v1/projects/" + esc(projectID) + "/images"
	}
	return c.upload(ctx, target, path, filepath.Base(path), [][2]string{{"ImageReplication", replication}, {"name", name}})
}

// AttachISO uploads an ISO file to a VM's CD-ROM (POST /v1/vms/{id}/attach_iso, the
// part "file" as the SDK sent it) and answers its ATTACH_ISO task. name "" is the
// file's name; the server names the ISO by it.
func (c *Client) AttachISO(ctx context.Context, vmID, path, name string) (*pb.Task, error) {
	if name == "" {
		name = filepath.Base(path)
	}
	return c.upload(ctx, "/v1/vms/"+esc(vmID)+"/attach_iso", path, name, nil)
}

// upload posts the file at path as multipart/form-data: the non-empty fields in order,
// then the part "file" named fileName, streamed from disk (each attempt reopens it).
func (c *Client) upload(ctx context.Context, target, path, fileName string, fields [][2]string) (*pb.Task, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	stream := func() (io.ReadCloser, string, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", err
		}
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			defer f.Close()
			err := func() error {
				for _, kv := range fields {
					if kv[1] == "" {
						continue
					}
					if err := mw.WriteField(kv[0], kv[1]); err != nil {
						return err
					}
				}
				part, err := mw.CreateFormFile("file", fileName)
				if err != nil {
					return err
				}
				if _, err := io.Copy(part, f); err != nil {
					return err
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		return pr, mw.FormDataContentType(), nil
	}
	t := &pb.Task{}
	return t, c.send(ctx, request{method: "POST", path: target, stream: stream}, t)
}

func marshal(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

func itoa(n int) string { return strconv.Itoa(n) }
