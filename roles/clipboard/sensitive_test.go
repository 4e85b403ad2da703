package clipboard

import "testing"

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		text, hint, want string
	}{
		{"hello world", "", Public},
		{"hello world", "secret", "password-manager"},
		{"AKIAIOSFODNN7EXAMPLE", "", "aws-key"},
		{"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "", "aws-key"},
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "entropy"}, // an AWS secret access key
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n", "", "private-key"},
		{"-----BEGIN RSA PRIVATE KEY-----", "", "private-key"},
		{"-----BEGIN PRIVATE KEY-----", "", "private-key"},
		{"-----BEGIN PUBLIC KEY-----", "", Public},
		{"ghp_0123456789abcdefghijABCDEFGHIJ012345", "", "github-token"},
		{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "", "github-token"},
		{"glpat-abcdefghij0123456789", "", "gitlab-token"},
		{"xoxb-123456789012-1234567890123-abcdefghijklmnop", "", "slack-token"},
		{"https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX", "", "slack-token"},
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "", "jwt"},
		{"sk_live_abcdefghijklmnopqrstuvwx", "", "stripe-key"},
		{"AIzaSyA-1234567890abcdefghijklmnopqrstu", "", "google-api-key"},
		{"x7#Kp2!mQz9@Lw", "", "entropy"},
		// Not secrets.
		{"https://example.com/a/B/c?d=1&E=2", "", Public},
		{"/usr/share/fonts/truetype/dejavu", "", Public},
		{"0123456789abcdef0123456789abcdef01234567", "", Public}, // a git hash
		{"123e4567-e89b-12d3-a456-426614174000", "", Public},     // a UUID
		{"someone@example.com", "", Public},
		{"The quick brown fox jumps over the lazy dog", "", Public},
		{"Password1", "", Public}, // too short to say
		{"", "", Public},
	} {
		if got := Classify([]byte(tc.text), tc.hint); got != tc.want {
			t.Errorf("Classify(%q, %q) = %q, want %q", tc.text, tc.hint, got, tc.want)
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte("AKIAIOSFODNN7EXAMPLE"), "")
	f.Add([]byte("x7#Kp2!mQz9@Lw"), "secret")
	f.Add([]byte{0xff, 0xfe, 'a'}, "")
	f.Fuzz(func(t *testing.T, b []byte, hint string) {
		Classify(b, hint)
	})
}
