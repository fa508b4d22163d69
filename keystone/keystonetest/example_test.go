package keystonetest_test

import (
	"fmt"
	"net/http"
	"strings"

	"opendev.org/starlingx/metal-go/keystone/keystonetest"
)

// A token issued by the fake opens the fake service until it is revoked;
// an injected fault makes the next token request fail.
func Example() {
	srv := keystonetest.New()
	c := srv.Client()

	auth := `{"auth": {"identity": {"methods": ["password"],
		"password": {"user": {"name": "admin", "password": "admin-secret"}}}}}`
	issue := func() *http.Response {
		resp, err := c.Post(keystonetest.AuthURL+"/auth/tokens", "application/json", strings.NewReader(auth))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := issue()
	tok := resp.Header.Get("X-Subject-Token")
	fmt.Println("issue:", resp.StatusCode, "token:", tok != "")

	call := func() int {
		req, _ := http.NewRequest(http.MethodGet, keystonetest.ServiceURL+"hosts", nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := c.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("service:", call())
	srv.Revoke(tok)
	fmt.Println("service after revocation:", call())

	srv.Fail(keystonetest.FaultUnavailable, 1)
	fmt.Println("issue with a fault:", issue().StatusCode)
	fmt.Println("issue after it:", issue().StatusCode)
	total, unauthorized := srv.ServiceRequests()
	fmt.Println("token requests:", srv.AuthRequests(), "service requests:", total, "401s:", unauthorized)
	// Output:
	// issue: 201 token: true
	// service: 200
	// service after revocation: 401
	// issue with a fault: 503
	// issue after it: 201
	// token requests: 3 service requests: 2 401s: 1
}
