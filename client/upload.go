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
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	target := "/v1/images"
	if projectID != "" {
		target = "/v1/projects/" + esc(projectID) + "/images"
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
				if replication != "" {
					if err := mw.WriteField("ImageReplication", replication); err != nil {
						return err
					}
				}
				if name != "" {
					if err := mw.WriteField("name", name); err != nil {
						return err
					}
				}
				part, err := mw.CreateFormFile("file", filepath.Base(path))
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
