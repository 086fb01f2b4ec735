# SPDX-License-Identifier: Apache-2.0
# Lists what bash scripts run, for install_deps_programs_test.sh. For each script given, prints
#   FILE:LINE WORD     for every word in command position: the first word of a simple command
#                      (after ; | & && || ( { $( and the keywords if/then/do/...), the command a
#                      prefix runs (timeout, env, xargs, exec, command, nohup, nice, sudo), and
#                      the word after a bare -- (the command a wrapper function such as
#                      tests/checks.sh's expect runs)
#   function NAME      for every shell function the script defines
# Comments, here-document bodies and the text of quoted strings are skipped; command
# substitutions inside double quotes are read. Words that cannot name a program (variables,
# quoted or with a slash) are left out. It reads bash as the project's scripts write it; it is
# not a parser, so an unusual construct may hide a command (never invent one).

function flush() {
  if (tok != "") {
    ntok++
    toks[ntok] = tok
  }
  tok = ""
}
function sep() {
  flush()
  ntok++
  toks[ntok] = "\n"  # a separator: the next word is in command position
}
function push(s) { stack[++sp] = s; depth_of[sp] = 0 }
function pop() { return sp > 0 ? stack[sp--] : "n" }
function is_name(w) { return w ~ /^[A-Za-z_][A-Za-z0-9_.+-]*$/ }

# Splits one logical line into words and separators in toks[1..ntok].
function tokenize(s,    n, i, c, nx, j, depth) {
  ntok = 0
  tok = ""
  n = length(s)
  i = 1
  while (i <= n) {
    c = substr(s, i, 1)
    if (state == "s") {  # inside '...', which may span lines
      j = index(substr(s, i), "'")
      if (j == 0) break
      i += j
      state = "n"
      tok = tok "%"
      continue
    }
    if (state == "m" || state == "a") {  # arithmetic or an array's elements: opaque
      if (state == "a" && c == "#" && substr(s, i - 1, 1) ~ /^[ \t]?$/) break
      if (c == "(") depth_of[sp]++
      else if (c == ")" && depth_of[sp] > 0) depth_of[sp]--
      else if (c == ")") { i += state == "m" ? 2 : 1; state = pop(); tok = tok "%"; continue }
      i++
      continue
    }
    if (state == "d") {  # inside "...": only $( matters
      if (c == "\\") { i += 2; continue }
      if (c == "\"") { state = pop(); tok = tok "%"; i++; continue }
      if (substr(s, i, 3) == "$((") { push("d"); depth_of[sp] = 0; state = "m"; i += 3; continue }
      if (c == "$" && substr(s, i + 1, 1) == "(") { push("d"); state = "n"; sep(); i += 2; continue }
      tok = tok "%"
      i++
      continue
    }
    if (c == "\\") { tok = tok "%"; i += 2; continue }
    if (c == "'") { state = "s"; i++; continue }
    if (c == "\"") { push("n"); state = "d"; i++; continue }
    if (c == "#" && tok == "") break
    if (substr(s, i, 2) == "((" || substr(s, i, 3) == "$((") {
      push("n"); depth_of[sp] = 0; state = "m"; i += c == "$" ? 3 : 2
      continue
    }
    if (substr(s, i, 2) == "=~") {  # [[ x =~ regex ]]: the regex is not code
      j = index(substr(s, i), "]]")
      i = j == 0 ? n + 1 : i + j - 1
      tok = tok "%"
      continue
    }
    if (c == "(" && tok ~ /=$/) {  # name=( ... ): an array's elements
      push("n"); depth_of[sp] = 0; state = "a"; i++
      continue
    }
    if (c == "$") {
      nx = substr(s, i + 1, 1)
      if (nx == "(") { push("n"); sep(); i += 2; continue }
      if (nx == "{") {  # ${...}: opaque up to its closing brace
        depth = 0
        for (; i <= n; i++) {
          c = substr(s, i, 1)
          if (c == "{") depth++
          else if (c == "}" && --depth == 0) break
        }
        tok = tok "%"
        i++
        continue
      }
      tok = tok "%"
      i++
      continue
    }
    if (c == "(") { push("n"); sep(); i++; continue }
    if (c == ")") { sep(); state = pop(); i++; continue }
    if (c == ";" || c == "|" || c == "&" || c == "{" || c == "}" || c == "`") { sep(); i++; continue }
    if (c == "<" || c == ">") {  # a redirection: its target is not a command
      flush()
      while (i <= n && substr(s, i, 1) ~ /[<>&]/) i++
      ntok++
      toks[ntok] = "\r"
      continue
    }
    if (c == " " || c == "\t") { flush(); i++; continue }
    tok = tok c
    i++
  }
  sep()
}

function report(w) {
  if (is_name(w)) print FILENAME ":" lineno " " w
}

# Walks the tokens of one logical line, printing the words in command position.
function walk(    k, w, prefix, redirect, after_dashes, skip_segment) {
  command_position = 1
  prefix = ""
  redirect = 0
  after_dashes = 0
  skip_segment = 0
  for (k = 1; k <= ntok; k++) {
    w = toks[k]
    if (w == "\n") {
      command_position = 1; prefix = ""; redirect = 0; after_dashes = 0; skip_segment = 0
      continue
    }
    if (w == "\r") { redirect = 1; continue }
    if (redirect) { redirect = 0; continue }
    if (skip_segment) continue
    if (command_position) {
      if (w ~ /^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=/) continue  # an assignment
      if (w ~ /^(if|then|else|elif|do|while|until|!|time|in)$/) continue
      if (w ~ /^(for|case|select|function|done|fi|esac)$/) { skip_segment = 1; continue }
      report(w)
      command_position = 0
      if (w ~ /^(timeout|env|xargs|exec|command|nohup|nice|sudo)$/) prefix = w
      continue
    }
    if (prefix != "") {
      # The prefix's own options and arguments, then the command it runs.
      if (prefix == "command" && w ~ /^-[vV]$/) { prefix = ""; continue }
      if (w ~ /^-/) continue
      if (prefix == "timeout" && w ~ /^[0-9.]+[smhd]?$/) continue
      if (prefix == "env" && w ~ /^[A-Za-z_][A-Za-z0-9_]*=/) continue
      report(w)
      prefix = w ~ /^(timeout|env|xargs|exec|command|nohup|nice|sudo)$/ ? w : ""
      continue
    }
    if (w == "--") { after_dashes = 1; continue }
    if (after_dashes) { report(w); after_dashes = 0 }
  }
}

FNR == 1 { state = "n"; sp = 0; heredoc = ""; pending = ""; lineno = 0 }

{
  line = $0
  if (heredoc != "") {  # inside a here-document's body
    stripped = line
    sub(/^\t+/, "", stripped)
    if (stripped == heredoc) heredoc = ""
    next
  }
  if (pending == "") lineno = FNR
  if (line ~ /\\$/) {  # a continued line
    pending = pending substr(line, 1, length(line) - 1) " "
    next
  }
  line = pending line
  pending = ""

  if (match(line, /^[ \t]*(function[ \t]+)?[A-Za-z_][A-Za-z0-9_-]*[ \t]*\(\)/)) {
    name = substr(line, RSTART, RLENGTH)
    sub(/^[ \t]*(function[ \t]+)?/, "", name)
    sub(/[ \t]*\(\)$/, "", name)
    print "function " name
  }
  # A here-document starts after this line (<<WORD, <<-WORD, <<'WORD'; not a <<< here-string).
  rest = line
  while (match(rest, /<<-?[ \t]*['"]?[A-Za-z_][A-Za-z0-9_]*/)) {
    before = RSTART > 1 ? substr(rest, RSTART - 1, 1) : ""
    word = substr(rest, RSTART, RLENGTH)
    after = substr(rest, RSTART + 2, 1)
    rest = substr(rest, RSTART + RLENGTH)
    if (before == "<" || after == "<") continue
    sub(/^<<-?[ \t]*['"]?/, "", word)
    heredoc = word
  }
  tokenize(line)
  walk()
}
