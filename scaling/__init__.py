"""Scaling Lab core: data -> model -> train -> store -> fit -> charts. No Streamlit in here."""
