"""The floor's dashboard: ``streamlit run alohub_dashboard/app.py`` (``make dashboard``).

Three pages over the KPI mart of ``ALOHUB_DATA_DIR``: today per hotline, the trends of the
last weeks, the agents. Vietnamese by default, English by the switch in the sidebar.
"""

import streamlit as st

from alohub_dashboard import ui

t = ui.texts()
st.set_page_config(page_title=t("app.title"), layout="wide")
t = ui.language_switch()
page = st.navigation(
    [
        st.Page("views/today.py", title=t("nav.today"), url_path="today", default=True),
        st.Page("views/trends.py", title=t("nav.trends"), url_path="trends"),
        st.Page("views/agents.py", title=t("nav.agents"), url_path="agents"),
    ]
)
page.run()
