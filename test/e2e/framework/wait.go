package framework

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Eventually polls cond every 100 ms until it reports true or timeout passes;
// then it fails the test with the last state cond described.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v; last state: %s", timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GetJSON decodes the JSON body of a GET that must answer 200.
func GetJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// PromSample is one element of an instant query's vector result.
type PromSample struct {
	Metric    map[string]string `json:"metric"`
	Value     []any             `json:"value"`     // [time, "float"]
	Histogram []any             `json:"histogram"` // [time, {count, sum, buckets}] for native histograms
}

// PromQuery runs an instant query on a Prometheus server (base URL).
func PromQuery(base, q string) ([]PromSample, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []PromSample `json:"result"`
		} `json:"data"`
	}
	if err := GetJSON(base+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s %s", q, r.Status, r.Error)
	}
	return r.Data.Result, nil
}
