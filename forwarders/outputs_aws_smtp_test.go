package forwarders_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
)

// TestAWSAndSMTPOutputsFromEnv: falcosidekick's variables enable the AWS
// and SMTP outputs through the registry, with their minimum priorities.
func TestAWSAndSMTPOutputsFromEnv(t *testing.T) {
	setup, err := forwarders.FromEnv(env(map[string]string{
		"AWS_ACCESSKEYID": "AKID", "AWS_SECRETACCESSKEY": "secret", "AWS_REGION": "eu-west-1", "AWS_CHECKIDENTITY": "false",
		"AWS_S3_BUCKET": "falco", "AWS_S3_MINIMUMPRIORITY": "error",
		"AWS_SQS_URL":                 "https://sqs.eu-west-1.amazonaws.com/123456789012/falco",
		"AWS_SNS_TOPICARN":            "arn:aws:sns:eu-west-1:123456789012:falco",
		"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco",
		"SMTP_HOSTPORT":               "mail.example.com:587", "SMTP_FROM": "falco@example.com", "SMTP_TO": "sec@example.com",
		"SMTP_MINIMUMPRIORITY": "critical",
	}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	prio := map[string]alert.Priority{}
	for _, tg := range setup.Targets {
		names = append(names, tg.Name)
		prio[tg.Name] = tg.MinPriority
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "awscloudwatchlogs,awss3,awssns,awssqs,smtp" {
		t.Fatalf("targets %s", got)
	}
	if prio["awss3"] != alert.PriorityError || prio["smtp"] != alert.PriorityCritical || prio["awssqs"] != alert.PriorityUnset {
		t.Fatalf("minimum priorities %v", prio)
	}
}
