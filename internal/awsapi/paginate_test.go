package awsapi_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/awsapi"
)

func TestPagingWalksEveryKeyOnce(t *testing.T) {
	t.Parallel()
	p := awsapi.Paging{Default: 2, Limit: 3, ErrorCode: "InvalidParameterException"}
	keys := []string{"a", "b", "c", "d", "e"}
	var got []string
	var token *string
	for pages := 0; ; pages++ {
		pg, next, err := p.Page(keys, token, nil)
		if err != nil || pages > 5 {
			t.Fatalf("page %d: %v", pages, err)
		}
		got = append(got, pg...)
		if next == nil {
			break
		}
		token = next
	}
	if len(got) != len(keys) {
		t.Fatalf("walked %v", got)
	}
	// A key removed between calls does not break the next page.
	first, next, _ := p.Page(keys, nil, nil)
	rest, _, _ := p.Page([]string{"a", "c", "d", "e"}, next, nil)
	if first[1] != "b" || rest[0] != "c" {
		t.Fatalf("after a removal: %v then %v", first, rest)
	}
	four := int32(4)
	if _, _, err := p.Page(keys, nil, &four); !awsapi.IsCode(err, "InvalidParameterException") {
		t.Fatalf("maxResults above the limit: %v", err)
	}
	bad := "!!"
	if _, _, err := p.Page(keys, &bad, nil); !awsapi.IsCode(err, "InvalidParameterException") {
		t.Fatalf("bad token: %v", err)
	}
}
