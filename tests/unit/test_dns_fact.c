/* Unit tests of a lookup's kept facts (pipeline/answer.c answer_fact,
 * record/result.c dns_fact_clear): the EDE text is owned by the fact,
 * replaced on a new answer, capped, and freed (ASan checks the leaks). */
#include <stdlib.h>
#include <string.h>

#include "pipeline/answer.h"
#include "record/result.h"
#include "unit.h"

static struct dns_answer answer_with_ede(uint16_t code, const char *text) {
  struct dns_answer answer;
  memset(&answer, 0, sizeof answer);
  answer.state = DNSSEC_BOGUS;
  answer.rcode = 2; /* SERVFAIL */
  answer.has_ede = true;
  answer.ede_code = code;
  answer.ede_text = text;
  answer.attempts = 2;
  answer.resolver_index = 0;
  return answer;
}

static void test_ede_text_owned_and_replaced(void) {
  struct dns_fact fact;
  memset(&fact, 0, sizeof fact);
  char text[] = "validation failure <x.example. MX IN>: signature expired";
  struct dns_answer answer = answer_with_ede(7, text);
  answer_fact(&fact, &answer);
  memset(text, 'X', sizeof text - 1); /* the fact keeps its own copy */
  CHECK(fact.done && fact.has_ede && fact.ede_code == 7);
  CHECK_STR(fact.ede_text, "validation failure <x.example. MX IN>: signature expired");

  struct dns_answer plain;
  memset(&plain, 0, sizeof plain);
  plain.state = DNSSEC_SECURE;
  answer_fact(&fact, &plain); /* a new answer without EDE drops the old text */
  CHECK(!fact.has_ede && fact.ede_text == NULL && fact.state == DNSSEC_SECURE);

  struct dns_answer empty = answer_with_ede(22, "");
  answer_fact(&fact, &empty); /* an EDE without text: the code, no text */
  CHECK(fact.has_ede && fact.ede_code == 22 && fact.ede_text == NULL);
  dns_fact_clear(&fact);
  CHECK(!fact.done && fact.ede_text == NULL && fact.rcode == -1);
}

static void test_ede_text_capped(void) {
  char long_text[2000];
  memset(long_text, 'a', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  struct dns_fact fact;
  memset(&fact, 0, sizeof fact);
  struct dns_answer answer = answer_with_ede(6, long_text);
  answer_fact(&fact, &answer);
  CHECK(fact.ede_text != NULL && strlen(fact.ede_text) == RESULT_EDE_TEXT_MAX_BYTES - 1);
  dns_fact_clear(&fact);
}

UNIT_MAIN(UNIT_TEST(test_ede_text_owned_and_replaced), UNIT_TEST(test_ede_text_capped))
