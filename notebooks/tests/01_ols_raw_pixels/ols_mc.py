from otter.test_files import test_case

OK_FORMAT = False

name = "ols_mc"
points = 1

@test_case(points=0, hidden=False, 
    success_message="recorded; checked when graded (the point is for the right letter, not for the format)")
def test_mc_is_a_letter(ols_mc_answer):
    assert ols_mc_answer in ('A', 'B', 'C', 'D'), f"ols_mc_answer must be one of the strings 'A', 'B', 'C', 'D', got {ols_mc_answer!r}: write the letter of your choice in quotes, ols_mc_answer = 'X' with X the letter you choose"

