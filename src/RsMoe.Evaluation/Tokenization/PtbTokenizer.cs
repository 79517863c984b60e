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
                case '\u00BD': sb.Append("1/2"); break;
                case '\u00BC': sb.Append("1/4"); break;
                case '\u00BE': sb.Append("3/4"); break;
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
            if (body.EndsWith("...", StringComparison.Ordinal)) { trailing.Push("..."); end -= 3; continue; }
            char last = chunk[end - 1];
            if (last == '.' && !KeepsFinalPeriod(body)) { trailing.Push("."); end--; continue; }
            if (last is ',' or ';' or ':' or '?' or '!' or ')' or ']' or '}' or '"' or '%')
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
        if (c is '$' or '#') { token = c.ToString(); return true; }
        if (c is ',' or ';' or ':' or '?' or '!') { token = c.ToString(); return true; }
        if (chunk.AsSpan(i).StartsWith("--")) { token = "--"; length = 2; return true; }
        return false;
    }

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

    /// <summary>Splits one word of the lexer's grammar: contractions, cannot/gonna, inner brackets and quotes.</summary>
    static void SplitWord(string word, List<string> output)
    {
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
        // Symbols that the lexer always separates.
        int symbol = word.IndexOfAny(['$', '#', '%', '"', '!', '?', ';']);
        if (symbol >= 0 && word.Length > 1)
        {
            if (symbol > 0) SplitWord(word[..symbol], output);
            output.Add(word[symbol] == '"' ? "''" : word[symbol].ToString());
            if (symbol + 1 < word.Length) SplitWord(word[(symbol + 1)..], output);
            return;
        }
        output.Add(word);
    }
}
