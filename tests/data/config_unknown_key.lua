-- A config with a key nudge does not know: exit code 2, naming 'bogus'.
return { bogus = 1 }
