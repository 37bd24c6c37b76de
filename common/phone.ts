/** International format without `+`: country code and number, 8 to 15 digits (e.g. 79254321098, 375296787656). */
export const PHONE_PATTERN = /^[1-9]\d{7,14}$/;

export const INVALID_PHONE_MESSAGE =
  'Phone must be in international format, digits only, without "+" (e.g. 79254321098).';
