-- Test recipe for tests/cli/test_guardrails.sh (nudge explain): on "Story",
-- four marketing sends in a row, each with its own template — a push
-- (story_push), two emails (story_email1, story_email2) and an SMS
-- (story_sms) — so that with the test's config, consent and time they
-- come out suppressed, queued, capped and deferred, in that order.
return journey {
  name = "guard_story",
  trigger = { event = "Story" },
  run = function(j)
    j:send("push", "story_push")
    j:send("email", "story_email1")
    j:send("email", "story_email2")
    j:send("sms", "story_sms")
  end,
}
