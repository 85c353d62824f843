"""The REST gateway (`/v11`) and the WebSocket event stream, as a FastAPI app built per replica."""
