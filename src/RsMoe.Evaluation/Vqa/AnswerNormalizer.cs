using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RsMoe.Evaluation.Vqa;

/// <summary>
/// Normalises free-text answers before comparing them: lower case; punctuation to spaces; number words to digits
/// ("thirty-seven" → 37, "a dozen" is left alone); articles (a, an, the) removed; white space collapsed.
/// </summary>
public static partial class AnswerNormalizer
{
    static readonly Dictionary<string, int> Units = new()
    {
        ["zero"] = 0, ["one"] = 1, ["two"] = 2, ["three"] = 3, ["four"] = 4, ["five"] = 5, ["six"] = 6, ["seven"] = 7, ["eight"] = 8,
        ["nine"] = 9, ["ten"] = 10, ["eleven"] = 11, ["twelve"] = 12, ["thirteen"] = 13, ["fourteen"] = 14, ["fifteen"] = 15,
        ["sixteen"] = 16, ["seventeen"] = 17, ["eighteen"] = 18, ["nineteen"] = 19, ["no"] = -1,
    };

    static readonly Dictionary<string, int> Tens = new()
    {
        ["twenty"] = 20, ["thirty"] = 30, ["forty"] = 40, ["fifty"] = 50, ["sixty"] = 60, ["seventy"] = 70, ["eighty"] = 80, ["ninety"] = 90,
    };

    static readonly HashSet<string> Articles = ["a", "an", "the"];

    [GeneratedRegex(@"[^\p{L}\p{N}\s]")]
    private static partial Regex Punctuation();

    public static IReadOnlyList<string> Words(string answer)
    {
        string lower = answer.ToLower(CultureInfo.InvariantCulture).Normalize(NormalizationForm.FormKC);
        // Join hyphenated number words first ("thirty-seven"), then strip punctuation.
        lower = Regex.Replace(lower, @"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(one|two|three|four|five|six|seven|eight|nine)\b", "$1 $2");
        var words = Punctuation().Replace(lower, " ").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
        var result = new List<string>();
        for (int i = 0; i < words.Count; i++)
        {
            string w = words[i];
            if (Tens.TryGetValue(w, out int tens))
            {
                if (i + 1 < words.Count && Units.TryGetValue(words[i + 1], out int unit) && unit is > 0 and < 10) { result.Add((tens + unit).ToString()); i++; }
                else result.Add(tens.ToString());
                continue;
            }
            if (w != "no" && Units.TryGetValue(w, out int value)) { result.Add(value.ToString()); continue; }
            if (w == "hundred" && result.Count > 0 && int.TryParse(result[^1], out int hundreds)) { result[^1] = (hundreds * 100).ToString(); continue; }
            if (Articles.Contains(w)) continue;
            result.Add(w);
        }
        return result;
    }

    public static string Normalize(string answer) => string.Join(' ', Words(answer));
}
