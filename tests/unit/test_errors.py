from edgecloud.errors import ModelNotFound, Overloaded, PayloadTooLarge, Unavailable


def test_errors_render_the_openai_shape() -> None:
    body = ModelNotFound("no such model", param="model").to_body()
    assert body == {
        "error": {
            "message": "no such model",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }


def test_statuses_and_retry_after() -> None:
    assert ModelNotFound("x").status == 404
    assert PayloadTooLarge("x").status == 413
    overloaded = Overloaded("busy", retry_after=2.4)
    assert overloaded.status == 429 and overloaded.headers["Retry-After"] == "2"
    assert Unavailable("down").headers["Retry-After"] == "1"
