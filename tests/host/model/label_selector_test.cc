// SPDX-License-Identifier: Apache-2.0
// Label selectors in their string form, as Kubernetes defines them: what each operator selects,
// and every malformed term refused with a message that names it.
#include "host/model/label_selector.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace kbinder::host {
namespace {

using Labels = std::map<std::string, std::string>;

bool selects(const std::string& selector, const Labels& labels) {
  auto parsed = LabelSelector::parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status().message();
  return parsed.ok() && parsed->matches(labels);
}

TEST(LabelSelectorTest, TheEmptySelectorSelectsEverything) {
  for (const char* text : {"", "  "}) {
    auto parsed = LabelSelector::parse(text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(parsed->empty());
    EXPECT_TRUE(parsed->matches(Labels{}));
    EXPECT_TRUE(parsed->matches(Labels{{"app", "web"}}));
  }
}

TEST(LabelSelectorTest, EachOperatorSelectsAsKubernetesDefinesIt) {
  const Labels web = {{"app", "web"}, {"tier", "front"}};
  const Labels db = {{"app", "db"}};
  const Labels none = {};
  const struct {
    const char* selector;
    bool web, db, none;
  } cases[] = {
      {"app=web", true, false, false},
      {"app==web", true, false, false},
      {"app = web", true, false, false},
      {"app!=web", false, true, true},  // a missing label is not equal
      {"app in (web,db)", true, true, false},
      {"app in (web, cache)", true, false, false},
      {"app notin (web)", false, true, true},  // a missing label is not in the set
      {"app notin (web,db)", false, false, true},
      {"tier", true, false, false},
      {"!tier", false, true, true},
      {"! tier", false, true, true},
      {"app=web,tier", true, false, false},  // every requirement must hold
      {"app in (web,db),!tier", false, true, false},
      {"app=db,app!=db", false, false, false},
      {"example.com/role=x", false, false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(selects(c.selector, web), c.web) << c.selector << " on app=web,tier=front";
    EXPECT_EQ(selects(c.selector, db), c.db) << c.selector << " on app=db";
    EXPECT_EQ(selects(c.selector, none), c.none) << c.selector << " on no labels";
  }
}

TEST(LabelSelectorTest, KeysWithAPrefixAndEmptyValuesAreLabelsLikeAnyOther) {
  EXPECT_TRUE(selects("example.com/role=gpu", {{"example.com/role", "gpu"}}));
  EXPECT_TRUE(selects("flag=", {{"flag", ""}}));
  EXPECT_FALSE(selects("flag=", {}));
  EXPECT_TRUE(selects("flag in (,x)", {{"flag", ""}}));
}

TEST(LabelSelectorTest, MalformedTermsAreRefusedNamingTheTerm) {
  const struct {
    const char* selector;
    const char* message;
  } cases[] = {
      {"app=web,,tier", "term \"\" is empty; separate terms with single commas"},
      {"app=web,", "term \"\" is empty"},
      {"app in (web", "term \"app in (web\" has no closing parenthesis"},
      {"app (web)", "term \"app (web)\" needs 'in' or 'notin' before the values"},
      {"app within (web)", "has unknown operator 'within'; use in or notin"},
      {"app in ()",
       "term \"app in ()\" has an empty set of values; 'in' and 'notin' need one or more"},
      {"app notin ( )", "has an empty set of values"},
      {"app in (we b)", "has invalid value 'we b'"},
      {"=web", "term \"=web\" has an invalid key"},
      {"!", "term \"!\" has an invalid key"},
      {"a pp=web", "has an invalid key"},
      {"app=we b", "has an invalid value 'we b'"},
      {"app=web=x", "has an invalid value 'web=x'"},
  };
  for (const auto& c : cases) {
    auto parsed = LabelSelector::parse(c.selector);
    ASSERT_FALSE(parsed.ok()) << c.selector;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.selector;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.selector << ": " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(std::string("label selector \"") + c.selector + "\""),
              std::string::npos)
        << parsed.status().message();
  }
}

}  // namespace
}  // namespace kbinder::host
