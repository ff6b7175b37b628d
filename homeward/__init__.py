"""Homeward: referral and partner directory for return and reintegration work."""
