// A real OpenID Connect provider on loopback for Dockyard's single sign-on tests: zitadel/oidc's OP
// (an OpenID Certified library; github.com/zitadel/oidc/v3/pkg/op) with the library's example login
// page and in-memory storage, plus what the tests need: our clients (by flags), our users (a JSON
// file, each with a `groups` claim) and a few deliberately wrong clients (another audience).
//
//	oidc-provider -listen 127.0.0.1:0 -users users.json \
//	  -client 'id=dockyard,secret=s3cret,redirect=http://127.0.0.1:*/login/oidc/callback'
//
// It prints one line, `issuer http://127.0.0.1:<port>`, once it listens, then serves until killed.
// Client options (comma-separated key=value): id, secret, redirect (repeatable; `*` makes it a glob),
// audience (its ID tokens name only this audience, not the client: a token "for someone else", signed
// by the provider all the same), extra-audience (its ID tokens name this audience besides the client),
// userinfo=only (profile, email and groups only from the userinfo endpoint, not in the ID token).
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

const groupsScope = "groups"

// user is one test identity; Groups becomes the `groups` claim.
type user struct {
	ID            string   `json:"id"`
	Username      string   `json:"username"`
	Password      string   `json:"password"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Groups        []string `json:"groups"`
}

var defaultUsers = []user{
	{ID: "alice-id", Username: "alice", Password: "alice-password", GivenName: "Alice", FamilyName: "Admin",
		Email: "alice@example.test", EmailVerified: true, Groups: []string{"dockyard-admins", "developers"}},
	{ID: "bob-id", Username: "bob", Password: "bob-password", GivenName: "Bob", FamilyName: "Builder",
		Email: "bob@example.test", EmailVerified: true, Groups: []string{"developers"}},
}

// users implements storage.UserStore over our list.
type users struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func newUsers(list []user) *users {
	u := &users{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, x := range list {
		u.byID[x.ID] = &storage.User{
			ID: x.ID, Username: x.Username, Password: x.Password, FirstName: x.GivenName, LastName: x.FamilyName,
			Email: x.Email, EmailVerified: x.EmailVerified, PreferredLanguage: language.English,
		}
		u.groups[x.ID] = append([]string{}, x.Groups...)
	}
	return u
}

func (u *users) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u *users) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return storage.ServiceUserID }

type clientOptions struct {
	id, secret   string
	redirects    []string
	globs        []string
	audience     string
	extraAud     string
	userinfoOnly bool
}

type clientFlags []*clientOptions

func (c *clientFlags) String() string { return fmt.Sprint(len(*c), " clients") }

func (c *clientFlags) Set(value string) error {
	o := &clientOptions{}
	for _, part := range strings.Split(value, ",") {
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("client option %q is not key=value", part)
		}
		switch key {
		case "id":
			o.id = val
		case "secret":
			o.secret = val
		case "redirect":
			if strings.Contains(val, "*") {
				o.globs = append(o.globs, val)
			} else {
				o.redirects = append(o.redirects, val)
			}
		case "audience":
			o.audience = val
		case "extra-audience":
			o.extraAud = val
		case "userinfo":
			o.userinfoOnly = val == "only"
		default:
			return fmt.Errorf("unknown client option %q", key)
		}
	}
	if o.id == "" || o.secret == "" || len(o.redirects)+len(o.globs) == 0 {
		return fmt.Errorf("a client needs id, secret and at least one redirect")
	}
	*c = append(*c, o)
	return nil
}

// client adds to the example's web client: redirect globs (the console's loopback port is chosen per
// test run), the `groups` scope, and claims asserted in the ID token (as Dex does) unless userinfo=only.
type client struct {
	op.Client
	opts *clientOptions
}

func (c *client) RedirectURIGlobs() []string           { return c.opts.globs }
func (c *client) PostLogoutRedirectURIGlobs() []string { return nil }
func (c *client) IsScopeAllowed(scope string) bool     { return scope == groupsScope }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return !c.opts.userinfoOnly }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string {
		if c.opts.userinfoOnly {
			return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == groupsScope })
		}
		return scopes
	}
}

// audienced is an authorization request whose tokens name another audience besides the client.
type audienced struct {
	*storage.AuthRequest
	audience string
}

func (a *audienced) GetAudience() []string { return []string{a.audience} }

// store is the example's in-memory storage with our clients and the groups claim.
type store struct {
	*storage.Storage
	users   *users
	clients map[string]*clientOptions
}

func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	if o, ok := s.clients[id]; ok {
		return &client{Client: c, opts: o}, nil
	}
	return c, nil
}

func (s *store) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	req, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	if r, ok := req.(*storage.AuthRequest); ok {
		if o := s.clients[r.ApplicationID]; o != nil && o.extraAud != "" {
			return &audienced{AuthRequest: r, audience: o.extraAud}, nil
		}
	}
	return req, nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *store) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, groupsScope) {
		info.AppendClaims(groupsScope, s.users.groups[req.GetSubject()])
	}
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *store) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	if g, ok := s.users.groups[info.Subject]; ok {
		info.AppendClaims(groupsScope, g)
	}
	return nil
}

// foreignAudience re-signs, with the provider's own key, the ID tokens the token endpoint gives clients
// that have `audience`: their `aud` then names only that audience (the library always adds the client).
func foreignAudience(next http.Handler, st *store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := readBody(r)
		id, _, ok := r.BasicAuth()
		if decoded, err := url.QueryUnescape(id); err == nil {
			id = decoded
		}
		if !ok {
			form, _ := url.ParseQuery(string(body))
			id = form.Get("client_id")
		}
		o := st.clients[id]
		if o == nil || o.audience == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		var resp map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(out, &resp) == nil {
			if tok, ok := resp["id_token"].(string); ok {
				if signed, err := withAudience(r.Context(), st, tok, o.audience); err == nil {
					resp["id_token"] = signed
					out, _ = json.Marshal(resp)
				} else {
					slog.Error("re-signing an ID token failed", "error", err)
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(rec.Code)
		w.Write(out)
	})
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

func withAudience(ctx context.Context, st *store, token, audience string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	claims["aud"] = []string{audience}
	payload, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, err := st.SigningKey(ctx)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: key.Key()},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.ID()))
	if err != nil {
		return "", err
	}
	signed, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return signed.CompactSerialize()
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	usersFile := flag.String("users", "", "a JSON list of users (id, username, password, given_name, family_name, email, email_verified, groups)")
	var clients clientFlags
	flag.Var(&clients, "client", "a client: id=..,secret=..,redirect=..[,redirect=..][,audience=..][,userinfo=only] (repeatable)")
	flag.Parse()
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "oidc-provider: "+format+"\n", args...)
		os.Exit(1)
	}
	if len(clients) == 0 {
		fail("at least one -client is needed")
	}
	list := defaultUsers
	if *usersFile != "" {
		data, err := os.ReadFile(*usersFile)
		if err != nil {
			fail("reading %s: %v", *usersFile, err)
		}
		list = nil
		if err := json.Unmarshal(data, &list); err != nil {
			fail("%s is not a JSON list of users: %v", *usersFile, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail("listening on %s: %v", *listen, err)
	}
	issuer := "http://" + ln.Addr().String()

	byID := map[string]*clientOptions{}
	for _, o := range clients {
		storage.RegisterClients(storage.WebClient(o.id, o.secret, append(o.redirects, "http://unused.invalid/")...))
		byID[o.id] = o
	}
	us := newUsers(list)
	st := &store{Storage: storage.NewStorage(us), users: us, clients: byID}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(issuer, st, logger, false)

	fmt.Printf("issuer %s\n", issuer)
	if err := (&http.Server{Handler: foreignAudience(router, st)}).Serve(ln); err != nil {
		fail("serving: %v", err)
	}
}
