package awsconf

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/smithy-go"
)

func TestChunks(t *testing.T) {
	for _, tt := range []struct {
		sizes      []int
		maxN, maxB int
		want       [][2]int
	}{
		{nil, 10, 100, nil},
		{[]int{1, 1, 1}, 2, 100, [][2]int{{0, 2}, {2, 3}}},
		{[]int{60, 50, 10, 200, 5}, 10, 100, [][2]int{{0, 1}, {1, 3}, {3, 4}, {4, 5}}}, // 200 alone: the service refuses it
		{[]int{100, 1}, 10, 100, [][2]int{{0, 1}, {1, 2}}},
	} {
		if got := Chunks(tt.sizes, tt.maxN, tt.maxB); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Chunks(%v, %d, %d) = %v, want %v", tt.sizes, tt.maxN, tt.maxB, got, tt.want)
		}
	}
}

func TestRegions(t *testing.T) {
	for in, want := range map[string]string{
		"https://sqs.eu-west-3.amazonaws.com/123/q": "eu-west-3",
		"https://sqs.cn-north-1.amazonaws.com.cn/1": "cn-north-1",
		"http://localstack:4566/000000000000/q":     "",
	} {
		if got := RegionFromHost(in); got != want {
			t.Errorf("RegionFromHost(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RegionFromARN("arn:aws:sns:ap-south-1:123:falco"); got != "ap-south-1" {
		t.Errorf("RegionFromARN = %q", got)
	}
	if got := RegionFromARN("falco"); got != "" {
		t.Errorf("RegionFromARN(falco) = %q", got)
	}
}

func TestRetryableClientSide(t *testing.T) {
	var invalid smithy.InvalidParamsError
	invalid.Add(smithy.NewErrParamRequired("QueueUrl"))
	if Retryable(fmt.Errorf("op: %w", invalid)) {
		t.Error("a request the SDK refuses to build was retryable")
	}
	if !Retryable(fmt.Errorf("op: %w", context.DeadlineExceeded)) || !Retryable(errors.New("dial tcp: connection refused")) {
		t.Error("a timeout or connection failure was final")
	}
}
