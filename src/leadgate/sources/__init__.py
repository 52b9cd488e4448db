"""Inbound lead sources: Typeform, Webflow, Google Ads lead forms and generic JSON."""
