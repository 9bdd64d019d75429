#!/bin/sh
# `nudge check` reads the templates the recipes' j:send calls use: syntax
# errors, missing template files and values a call does not pass are errors
# (exit 2, "FILE:LINE: message" on stderr, no "recipes ok"); the file channel
# renders nothing, so it needs no template.  Each case is its own recipe folder.
. "$(dirname "$0")/lib.sh"

CONF="$TMP/nudge.conf.lua"
cat >"$CONF" <<'CONF'
return {
  channels = { email = { adapter = "smtp", url = "smtp://127.0.0.1:9", from = "a@example.test",
                         unsubscribe_url = "https://example.test/u" },
               push = { adapter = "file" }, sms = { adapter = "file" } },
}
CONF
cd "$TMP" || exit 1

# recipe CASE SEND: CASE/cart.lua, a journey whose line 6 is SEND (lines 1-5
# hold a comment with a j:send that must not count, and the journey's head).
recipe() {
    mkdir -p "$1/templates"
    cat >"$1/cart.lua" <<LUA
-- j:send("email", "commented_out") is no call
return journey {
  name = "cart_$1",
  trigger = { event = "Checkout Started" },
  run = function(j)
    $2
  end,
}
LUA
}

# template CASE FILE: CASE/templates/FILE from stdin.
template() { cat >"$1/templates/$2"; }

# check_case CASE: nudge check CASE/cart.lua; output in CASE.out/.err, $rc.
check_case() { run_nudge "$1" --config "$CONF" --db "$TMP/check.db" check "$1/cart.lua"; }

# fails CASE MESSAGE: the check exits 2 with exactly MESSAGE on stderr and
# without "recipes ok".
fails() {
    check_case "$1"
    equals "$1: exits 2" "$rc" 2
    equals "$1: says what is wrong, with file and line" "$(cat "$1.err")" "$2"
    if grep -q 'recipes ok' "$1.out"; then not_ok "$1: no 'recipes ok'" "$(cat "$1.out")"
    else ok "$1: no 'recipes ok'"; fi
}

# passes CASE: the check exits 0, prints "recipes ok" and nothing on stderr.
passes() {
    check_case "$1"
    equals "$1: exits 0" "$rc" 0
    contains "$1: recipes ok" "$1.out" "recipes ok"
    equals "$1: nothing on stderr" "$(cat "$1.err")" ""
}

recipe syntax 'j:send("email", "cart", { items = {} })'
template syntax cart.email.txt <<'T'
Subject: Your cart

{{#items}}
- {{name}}
T
fails syntax "syntax/templates/cart.email.txt:3: {{#items}} is never closed (add {{/items}})"

recipe subject 'j:send("email", "cart", { items = {} })'
printf 'Subject: {{#items}}Your cart\n\n{{/items}}\n' >subject/templates/cart.email.txt
fails subject "subject/templates/cart.email.txt:1: {{#items}} is never closed (add {{/items}})"

recipe missing 'j:send("email", "cart_reminder", { items = {} })'
fails missing 'missing/cart.lua:6: j:send("email", "cart_reminder"): no template missing/templates/cart_reminder.email.txt (or .html)'

recipe no_vars 'j:send("email", "cart")'
template no_vars cart.email.txt <<'T'
Subject: Your cart

Still thinking it over?
Take {{discount}}% off today.
T
fails no_vars "no_vars/cart.lua:6: template no_vars/templates/cart.email.txt line 4 uses {{discount}}, but this j:send passes no 'discount'"

recipe table_vars 'j:send("email", "cart", { items = j.trigger.properties.products, extra = { discount = 5 } })'
template table_vars cart.email.html <<'T'
Subject: Your cart

<p>{{#items}}{{name}} {{/items}}</p>
<p>{{discount}}% off</p>
T
fails table_vars "table_vars/cart.lua:6: template table_vars/templates/cart.email.html line 4 uses {{discount}}, but this j:send passes no 'discount'"

recipe section_name 'j:send("email", "cart", { discount = 10 })'
template section_name cart.email.txt <<'T'
Subject: Your cart

{{#items}}
- {{name}}
{{/items}}
T
passes section_name # a section's value may be left out (docs/templates.md)

# templates in the recipe itself: used instead of files, checked the same way
inline() { # inline CASE SEND TEXT: CASE/cart.lua with templates.cart.email = TEXT
    mkdir -p "$1"
    cat >"$1/cart.lua" <<LUA
return journey {
  name = "cart_$1",
  trigger = { event = "Checkout Started" },
  templates = { cart = { email = { subject = "Hi", text = "$3" } } },
  run = function(j)
    $2
  end,
}
LUA
}
inline inline_ok 'j:send("email", "cart", { discount = 10 })' 'Now {{discount}}% off'
passes inline_ok
inline inline_vars 'j:send("email", "cart")' 'Now {{discount}}% off'
fails inline_vars "inline_vars/cart.lua:6: template inline_vars/cart.lua: templates.cart.email.text line 1 uses {{discount}}, but this j:send passes no 'discount'"
inline inline_syntax 'j:send("email", "cart")' 'Now {{#a}} off'
check_case inline_syntax
equals "inline_syntax: exits 2" "$rc" 2
contains "inline_syntax: names the template" inline_syntax.err "inline_syntax/cart.lua: templates.cart.email.text:1:"

recipe passed 'j:send("email", "cart", { discount = 10, ["items"] = {} })'
template passed cart.email.txt <<'T'
Subject: {{discount}}% off your cart

{{#items}}{{name}}{{/items}} now {{discount}}% off
T
passes passed

recipe item_field 'j:send("email", "cart", { items = j.trigger.properties.products })'
template item_field cart.email.txt <<'T'
Subject: Your cart

{{#items}}
- {{name}}: ${{price}}
{{/items}}
T
passes item_field

recipe profile 'j:send("email", "cart")'
template profile cart.email.txt <<'T'
Subject: Hi {{profile.first_name}}

Hi {{profile.first_name}}, your cart is waiting.
Unsubscribe: {{unsubscribe_url}}
T
passes profile

recipe vars_variable 'local vars = { items = {} }; j:send("email", "cart", vars)'
template vars_variable cart.email.txt <<'T'
Subject: Your cart

Take {{discount}}% off today.
T
passes vars_variable

# sms and push: adapter = "file" (a channel the config does not name is an
# error when it names any: tests/cli/test_check_lints.sh).
recipe file_channel 'j:send("sms", "cart_sms") j:send("push", "nowhere", { a = 1 })'
passes file_channel

# Two recipes in one folder: the folder's templates are read once, and
# each recipe's own calls are checked.
recipe folder 'j:send("email", "cart")'
sed 's/cart_folder/other_folder/; s/"cart"/"other"/' folder/cart.lua >folder/other.lua
printf 'Subject: x\n\n{{/a}}\n' >folder/templates/cart.email.txt
run_nudge folder --config "$CONF" --db "$TMP/check.db" check folder
equals "folder: exits 2" "$rc" 2
equals "folder: the syntax error once, then the other recipe's missing template" \
    "$(cat folder.err)" \
    "folder/templates/cart.email.txt:3: {{/a}} closes no section
folder/other.lua:6: j:send(\"email\", \"other\"): no template folder/templates/other.email.txt (or .html)"
