using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RsMoe.Evaluation.Tokenization;

/// <summary>
/// The COCO caption toolkit's text pipeline: Stanford PTBLexer 3.4.1 behaviour (<c>-preserveLines -lowerCase</c>),
/// then the toolkit's punctuation filter. See METRICS.md for the behaviours reproduced: quotes, brackets,
/// currency, fractions, cannot/gonna splits, contractions, dashes and ellipses, abbreviations, numbers,
/// hyphenated words, percentages, and characters outside the Basic Multilingual Plane.
/// </summary>
/// <remarks>
/// Punctuation runs and symbols follow PTBLexer.flex. No 3.4.1 copy is stored where we could read it, so the rules
/// used are the ones that agree across the stored copies around it: the 2012-13 flex (LVTagger, guokr/stan-cn-nlp,
/// and the generated lexers of cldellow/stanford-pos-tagger and irina-gaponchik/stanford-corenlp), the generated
/// lexer of a 3.5.x build (automenta/corenlp, JFlex 1.5.1), and the 2017 and 2021 flex (calibr/CoreNLP,
/// stanfordnlp/CoreNLP). Where those disagree, the 3.5.x lexer decides: its character classes put the degree sign
/// with the other MISCSYMBOL characters (so the later DEGREES rule for °C and °F is absent), and it returns
/// &lt; and &gt; as themselves, as it returns -LSB- for [. It cannot settle runs of '=' (one token from 2017 on,
/// one per character before) nor runs of six or more dots (one "..." or several, all filtered); both follow 2017.
/// </remarks>
public static partial class PtbTokenizer
{
    static readonly HashSet<string> Removed =
        ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"];

    static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "mt.", "ft.", "jr.", "sr.", "vs.", "etc.", "inc.", "ltd.", "co.", "corp.",
        "no.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.", "ave.", "rd.",
        "blvd.", "approx.", "dept.", "est.", "gen.", "gov.", "lt.", "col.", "capt.", "sgt.", "rev.", "fig.", "vol.",
    };

    /// <summary>Tokenises, lower-cases and filters one caption, returning the space-joined tokens the scorers read.</summary>
    public static string Tokenize(string text) => string.Join(' ', Tokens(text));

    public static IReadOnlyList<string> Tokens(string text)
    {
        var lexed = Lex(text);
        var result = new List<string>(lexed.Count);
        foreach (var token in lexed)
        {
            string lower = token.ToLower(CultureInfo.GetCultureInfo("en-US"));
            if (!Removed.Contains(lower)) result.Add(lower);
        }
        return result;
    }

    [GeneratedRegex(@"^(?<num>[0-9]+(?:[.,:/][0-9]+)*)(?<pct>%)$")]
    private static partial Regex Percentage();
    [GeneratedRegex(@"^[0-9]+(?:[.,:/][0-9]+)*$")]
    private static partial Regex Number();
    [GeneratedRegex(@"^(?:[a-z]\.){2,}$", RegexOptions.IgnoreCase)]
    private static partial Regex Initialism();
    // THINGA: its character classes are upper-case only (the scanner's caselessness stops at classes).
    [GeneratedRegex(@"^[A-Z]+(?:[+&][A-Z]+)+$")]
    private static partial Regex ThingA();

    /// <summary>PTB lexing before lower-casing and filtering (brackets as -LRB-, quotes as `` and '').</summary>
    public static IReadOnlyList<string> Lex(string text)
    {
        var output = new List<string>();
        string normalised = Normalise(text);
        foreach (var chunk in normalised.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            LexChunk(chunk, output);
        return output;
    }

    static string Normalise(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value > 0xFFFF) continue;                       // the lexer deletes what it cannot handle
            switch (rune.Value)
            {
                case '\u2018': case '\u2019': case '\u201A': case '\u2032': sb.Append('\''); break;
                case '\u201C': case '\u201D': case '\u201E': sb.Append('"'); break;
                case '\u2013': case '\u2014': sb.Append(" -- "); break;
                case '\u2026': sb.Append(" ... "); break;
                // FRAC2 is always a token of its own: "5½" is "5" then "1/2".
                case '\u00BD': sb.Append(" 1/2 "); break;
                case '\u00BC': sb.Append(" 1/4 "); break;
                case '\u00BE': sb.Append(" 3/4 "); break;
                case '\u20AC': sb.Append(" $ "); break;                  // currency normalised to $ or #
                case '\u00A3': sb.Append(" # "); break;
                case '\u00A0': sb.Append(' '); break;
                default: sb.Append(rune.ToString()); break;
            }
        }
        return sb.ToString();
    }

    static void LexChunk(string chunk, List<string> output)
    {
        // Peel leading punctuation.
        int start = 0;
        var trailing = new Stack<string>();
        while (start < chunk.Length && IsLeadingPunct(chunk, start, out var token, out int length))
        {
            output.Add(token);
            start += length;
        }
        int end = chunk.Length;
        while (end > start)
        {
            string body = chunk[start..end];
            int dots = RunBefore(chunk, start, end, c => c == '.');
            if (dots >= 3)
            {
                // Longest match first: an abbreviation ahead of the run keeps one dot ("etc...." is "etc." then "...").
                int run = KeepsFinalPeriod(chunk[start..(end - dots + 1)]) ? dots - 1 : dots;
                foreach (var dot in DotRun(run)) trailing.Push(dot);
                end -= run;
                continue;
            }
            char last = chunk[end - 1];
            if (last == '.' && !KeepsFinalPeriod(body)) { trailing.Push("."); end--; continue; }
            if (last is '?' or '!')
            {
                int run = RunBefore(chunk, start, end, IsQuestionOrBang);
                trailing.Push(chunk[(end - run)..end]);
                end -= run;
                continue;
            }
            if (last is ',' or ';' or ':' or ')' or ']' or '}' or '"' or '%')
            {
                if (last == '%' && Percentage().IsMatch(body)) { trailing.Push("%"); end--; continue; }
                if (last == '%') { trailing.Push("%"); end--; continue; }
                trailing.Push(Bracket(last, closing: true));
                end--;
                continue;
            }
            if (last == '\'' && body.Length > 1 && !body.EndsWith("s'", StringComparison.OrdinalIgnoreCase))
            {
                trailing.Push("''");
                end--;
                continue;
            }
            break;
        }
        if (end > start) SplitWord(chunk[start..end], output);
        while (trailing.Count > 0) output.Add(trailing.Pop());
    }

    static bool IsLeadingPunct(string chunk, int i, out string token, out int length)
    {
        length = 1;
        token = "";
        char c = chunk[i];
        if (c == '"') { token = "``"; return true; }
        if (c == '\'' && i + 1 < chunk.Length && !IsContractionStart(chunk, i)) { token = "`"; return true; }
        if (c is '(' or '[' or '{') { token = Bracket(c, closing: false); return true; }
        if (c == '#' && IsHashtagAt(chunk, i)) return false;
        if (c is '$' or '#') { token = c.ToString(); return true; }
        if (c is ',' or ';' or ':') { token = c.ToString(); return true; }
        if (c is '?' or '!') { length = RunAfter(chunk, i, IsQuestionOrBang); token = chunk.Substring(i, length); return true; }
        if (c == '.')
        {
            int dots = RunAfter(chunk, i, ch => ch == '.');
            if (dots == 1 && i + 1 < chunk.Length && char.IsAsciiDigit(chunk[i + 1])) return false;   // ".5" is a number
            length = dots >= 3 ? dots : 1;
            token = dots >= 3 ? "..." : ".";
            return true;
        }
        if (chunk.AsSpan(i).StartsWith("--")) { token = "--"; length = 2; return true; }
        return false;
    }

    static bool IsQuestionOrBang(char c) => c is '?' or '!';

    static int RunAfter(string s, int i, Func<char, bool> member)
    {
        int j = i;
        while (j < s.Length && member(s[j])) j++;
        return j - i;
    }

    static int RunBefore(string s, int start, int end, Func<char, bool> member)
    {
        int j = end;
        while (j > start && member(s[j - 1])) j--;
        return end - j;
    }

    /// <summary>LDOTS takes three or more dots as one "..."; one or two dots are single "." tokens.</summary>
    static string[] DotRun(int count) => count >= 3 ? ["..."] : Enumerable.Repeat(".", count).ToArray();

    // TWITTER: '#' before a letter starts a hashtag ("#tag"); '#' before anything else is DOLSIGN ("#1" is "#" "1").
    static bool IsHashtagAt(string s, int i) => i + 1 < s.Length && char.IsLetter(s[i + 1]);

    static bool IsContractionStart(string chunk, int i)
    {
        string rest = chunk[(i + 1)..].ToLowerInvariant();
        return i > 0 && (rest is "s" or "m" or "d" or "ll" or "re" or "ve");
    }

    static string Bracket(char c, bool closing) => c switch
    {
        '(' => "-LRB-", ')' => "-RRB-", '[' => "-LSB-", ']' => "-RSB-", '{' => "-LCB-", '}' => "-RCB-",
        '"' => closing ? "''" : "``",
        _ => c.ToString(),
    };

    static bool KeepsFinalPeriod(string body) =>
        Abbreviations.Contains(body) || Initialism().IsMatch(body);

    /// <summary>
    /// Splits one word of the lexer's grammar: symbols and punctuation runs, contractions, cannot/gonna, inner
    /// brackets and quotes.
    /// </summary>
    static void SplitWord(string word, List<string> output)
    {
        if (word.Length == 0) return;
        if (ThingA().IsMatch(word)) { output.Add(word); return; }
        if (FirstCut(word) is { } cut)
        {
            SplitWord(word[..cut.At], output);
            output.AddRange(cut.Tokens);
            SplitWord(word[(cut.At + cut.Length)..], output);
            return;
        }
        string lower = word.ToLowerInvariant();
        switch (lower)
        {
            case "cannot": output.Add(word[..3]); output.Add(word[3..]); return;
            case "gonna" or "gotta" or "wanna": output.Add(word[..3]); output.Add(word[3..]); return;
        }
        if (Number().IsMatch(word) || Initialism().IsMatch(word)) { output.Add(word); return; }

        // Inner brackets split a word.
        int bracket = word.IndexOfAny(['(', ')', '[', ']', '{', '}']);
        if (bracket >= 0)
        {
            if (bracket > 0) SplitWord(word[..bracket], output);
            output.Add(Bracket(word[bracket], closing: word[bracket] is ')' or ']' or '}'));
            if (bracket + 1 < word.Length) SplitWord(word[(bracket + 1)..], output);
            return;
        }
        if (lower.EndsWith("n't", StringComparison.Ordinal) && word.Length > 3)
        {
            output.Add(word[..^3]);
            output.Add(word[^3..]);
            return;
        }
        foreach (var suffix in new[] { "'s", "'m", "'d", "'ll", "'re", "'ve" })
        {
            if (lower.EndsWith(suffix, StringComparison.Ordinal) && word.Length > suffix.Length)
            {
                output.Add(word[..^suffix.Length]);
                output.Add(word[^suffix.Length..]);
                return;
            }
        }
        if (lower.EndsWith("s'", StringComparison.Ordinal) && word.Length > 2)
        {
            output.Add(word[..^1]);
            output.Add("'");
            return;
        }
        output.Add(word);
    }

    /// <summary>
    /// The first token inside a word that the lexer cuts out whatever touches it: where it starts, how many
    /// characters it spans, and the tokens it becomes. Null when the word has none.
    /// </summary>
    static (int At, int Length, string[] Tokens)? FirstCut(string word)
    {
        for (int i = 0; i < word.Length; i++)
        {
            char c = word[i];
            int n;
            switch (c)
            {
                case '?' or '!':                                            // [?!]+ is one token: "?!" survives the filter
                    n = RunAfter(word, i, IsQuestionOrBang);
                    return (i, n, [word.Substring(i, n)]);
                case '.' when i + 1 < word.Length && word[i + 1] == '.':
                    n = RunAfter(word, i, ch => ch == '.');
                    if (KeepsFinalPeriod(word[..(i + 1)])) { i++; n--; }    // "etc.." is "etc." then "."
                    return (i, n, DotRun(n));
                case '#':
                    n = IsHashtagAt(word, i) ? 1 + RunAfter(word, i + 1, char.IsLetterOrDigit) : 1;
                    return (i, n, [word.Substring(i, n)]);
                case '+':                                                   // NUMBER takes a sign: "5+3" is "5" "+3"
                    n = i + 1 < word.Length && char.IsAsciiDigit(word[i + 1]) ? 1 + NumLength(word, i + 1) : 1;
                    return (i, n, [word.Substring(i, n)]);
                case '<' or '>':                                            // FAKEDUCKFEET "<<" ">>", else LESSTHAN/GREATERTHAN
                    n = i + 1 < word.Length && word[i + 1] == c ? 2 : 1;
                    return (i, n, [word.Substring(i, n)]);
                case '=':
                    n = RunAfter(word, i, ch => ch == '=');
                    return (i, n, [word.Substring(i, n)]);
                case '"':
                    return (i, 1, ["''"]);
                case '$' or ';':
                    return (i, 1, [c.ToString()]);
                case '\u2044' when i > 0 && char.IsAsciiDigit(word[i - 1]) && i + 1 < word.Length && char.IsAsciiDigit(word[i + 1]):
                    continue;                                               // FRAC: "1⁄2" stays whole
            }
            n = SubSupLength(word, i);
            if (n > 0) return (i, n, [word.Substring(i, n)]);
            if (IsMiscSymbol(c)) return (i, 1, [c.ToString()]);
        }
        return null;
    }

    /// <summary>NUM: digits, then any number of [.,:] followed by digits.</summary>
    static int NumLength(string s, int i)
    {
        int j = i + RunAfter(s, i, char.IsAsciiDigit);
        while (j + 1 < s.Length && s[j] is '.' or ',' or ':' && char.IsAsciiDigit(s[j + 1]))
            j += 1 + RunAfter(s, j + 1, char.IsAsciiDigit);
        return j - i;
    }

    /// <summary>SUBSUPNUM: an optional sign, then a run of superscript digits or a run of subscript digits.</summary>
    static int SubSupLength(string s, int i)
    {
        int j = s[i] is '\u207A' or '\u207B' or '\u208A' or '\u208B' ? i + 1 : i;
        if (j >= s.Length) return 0;
        Func<char, bool>? digit = IsSuperscriptDigit(s[j]) ? IsSuperscriptDigit : IsSubscriptDigit(s[j]) ? IsSubscriptDigit : null;
        return digit is null ? 0 : j + RunAfter(s, j, digit) - i;
    }

    static bool IsSuperscriptDigit(char c) => c is '\u2070' or '\u00B9' or '\u00B2' or '\u00B3' or (>= '\u2074' and <= '\u2079');
    static bool IsSubscriptDigit(char c) => c is >= '\u2080' and <= '\u2089';

    // MISCSYMBOL as the stored copies from 2012 to 2021 all have it for these characters, plus the one-character
    // rule for ¡ and ¿. NUMBER and THINGA can take '+' and '&' into longer tokens; those are checked first.
    static readonly (char Lo, char Hi)[] MiscSymbols =
    [
        ('%', '%'), ('&', '&'), ('+', '+'), ('\\', '\\'), ('^', '^'), ('|', '|'), ('~', '~'),
        ('\u00A1', '\u00A1'), ('\u00A6', '\u00A9'), ('\u00AC', '\u00AC'), ('\u00AE', '\u00BA'), ('\u00BF', '\u00BF'),
        ('\u00D7', '\u00D7'), ('\u00F7', '\u00F7'), ('\u0387', '\u0387'), ('\u05BE', '\u05BE'), ('\u05C0', '\u05C0'),
        ('\u05C3', '\u05C3'), ('\u05C6', '\u05C6'), ('\u05F3', '\u05F4'), ('\u0600', '\u0603'), ('\u0606', '\u060A'),
        ('\u060C', '\u060C'), ('\u0614', '\u0614'), ('\u061B', '\u061B'), ('\u061E', '\u061E'), ('\u066A', '\u066A'),
        ('\u066D', '\u066D'), ('\u0703', '\u070D'), ('\u07F6', '\u07F8'), ('\u0964', '\u0965'), ('\u0E4F', '\u0E4F'),
        ('\u1FBD', '\u1FBD'), ('\u2016', '\u2017'), ('\u2020', '\u2023'), ('\u2030', '\u2038'), ('\u203B', '\u203B'),
        ('\u203E', '\u2042'), ('\u2044', '\u2044'), ('\u207A', '\u207F'), ('\u208A', '\u208E'), ('\u2100', '\u214F'),
        ('\u2190', '\u21FF'), ('\u2200', '\u2BFF'), ('\u3012', '\u3012'), ('\u30FB', '\u30FB'), ('\uFF01', '\uFF0F'),
        ('\uFF1A', '\uFF20'), ('\uFF3B', '\uFF40'), ('\uFF5B', '\uFF65'),
    ];

    /// <summary>A character the lexer makes a token of its own. Letters in those ranges (µ, º, ℓ) are not: WORD takes them.</summary>
    static bool IsMiscSymbol(char c)
    {
        if (char.IsLetter(c)) return false;
        foreach (var (lo, hi) in MiscSymbols)
            if (c >= lo && c <= hi) return true;
        return false;
    }
}
