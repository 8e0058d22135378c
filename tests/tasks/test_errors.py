import pickle

from tasks.errors import InputError


def test_an_input_error_names_a_url_without_its_query_or_user_info():
    assert str(InputError("https://127.0.0.1:1/dl.zip?k=SECRETSECRET&id=1", "no such file or folder")) == (
        "https://127.0.0.1:1/dl.zip?***: no such file or folder"
    )
    assert str(InputError("mailchimp://a1b2c3d4e5#page=2", "unreadable", line=4)) == "mailchimp://a1b2c3d4e5#page=2:4: unreadable"
    assert str(InputError("--consent", "unknown status")) == "--consent: unknown status"


def test_an_input_error_survives_pickling_as_a_failed_state_crossing_processes_carries_it():
    error = InputError("s3://b/export.zip", "not a zip file", line=3)

    copy = pickle.loads(pickle.dumps(error))

    assert (type(copy), str(copy), copy.uri, copy.problem, copy.line) == (InputError, str(error), error.uri, error.problem, 3)
