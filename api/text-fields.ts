import { z } from 'zod';

/**
 * A visible character: what a trimmed text field must keep. Published as the field's `pattern`, so the schema says
 * what the check does (a blank value such as "\u00a0" passed `minLength: 1` and was refused after trimming). `\s`
 * and trim() agree in JavaScript; U+FEFF is named because other languages' `\s` (Python's) leave it out.
 */
const VISIBLE = /[^\s\ufeff]/;

/** A string trimmed before its length checks, refused when nothing visible is left ('must not be blank'). */
export const visibleText = () => z.string().regex(VISIBLE, 'must not be blank').trim();
