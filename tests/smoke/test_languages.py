"""Pages in each declared language: every declared page, requested with Accept-Language set to each language a
toggle journey declares, answers its status and marker text without a stack trace."""

from synthgate.checks import languages


def test_page_in_language(language_page, sg_profile, sg_target, sg):
    sg.attempted(language_page.id, languages.execute(language_page, sg_profile, sg_target))
