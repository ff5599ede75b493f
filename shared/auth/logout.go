package auth

import (
	"net/http"
	"strconv"
	"strings"
)

// LogoutHandler serves LogoutPath, the end-session endpoint (OpenID Connect
// RP-Initiated Logout 1.0). GET or POST, with:
//
//   - refresh_token: Photon's own parameter, the refresh token to revoke (best in a POST
//     form, where it stays out of logs); its whole family stops working;
//   - post_logout_redirect_uri and state: where to send the browser after, under the
//     rules of a redirect_uri (LoginOptions), with state joined to its query;
//   - client_id and id_token_hint: accepted, not needed (the issuer keeps no session).
//
// Without post_logout_redirect_uri it answers a page saying the user is signed out; with
// one it may not redirect to, the same page says so (the token is revoked all the same).
func (i *Issuer) LogoutHandler(users *Users, o LoginOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pageRequest(w, r) {
			return
		}
		if err := users.revoke(r.Context(), r.FormValue("refresh_token")); err != nil {
			pageError(w, r, http.StatusInternalServerError, "The session cannot be ended now. Try again in a moment.")
			return
		}
		to := r.FormValue("post_logout_redirect_uri")
		switch {
		case to == "":
			writePage(w, http.StatusOK, page{Title: "Signed out", Message: "You are signed out of Photon."}, "form-action 'none'")
		case !o.redirectAllowed(to, r):
			writePage(w, http.StatusBadRequest, page{Title: "Signed out", Alert: true,
				Message: "You are signed out of Photon, but the post_logout_redirect_uri " + strconv.Quote(to) + " is not one this issuer sends users back to."}, "form-action 'none'")
		default:
			redirect(w, r, to, map[string][]string{"state": {r.FormValue("state")}})
		}
	})
}

// RevokeHandler serves RevokePath, token revocation (RFC 7009): POST token=<refresh
// token> ends the token's family and answers 200, also for a token that is unknown or
// revoked already, as the RFC asks. Access tokens cannot be revoked (they are checked
// without a call to the issuer, and expire soon): one is unsupported_token_type.
func (i *Issuer) RevokeHandler(users *Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postedForm(w, r) {
			return
		}
		token := r.PostForm.Get("token")
		switch {
		case token == "":
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "token is required"})
			return
		case strings.Count(token, ".") == 2:
			writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_token_type", "access tokens cannot be revoked: they expire; revoke the refresh token"})
			return
		}
		if err := users.revoke(r.Context(), token); err != nil {
			writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot revoke the token now"})
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
