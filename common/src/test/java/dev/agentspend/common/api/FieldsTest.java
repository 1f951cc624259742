package dev.agentspend.common.api;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FieldsTest {

    @Test
    void handlesAreLowercaseDnsLabelsOf3To63() {
        assertTrue(Fields.isHandle("research-agent-1"));
        assertTrue(Fields.isHandle("abc"));
        assertFalse(Fields.isHandle("ab"));
        assertFalse(Fields.isHandle("a".repeat(64)));
        assertFalse(Fields.isHandle("Research"));
        assertFalse(Fields.isHandle("-abc"));
        assertFalse(Fields.isHandle("abc-"));
        assertFalse(Fields.isHandle("a_bc"));
        assertFalse(Fields.isHandle(null));
    }

    @Test
    void currencyCodesAreIso4217() {
        assertTrue(Fields.isCurrencyCode("USD"));
        assertTrue(Fields.isCurrencyCode("EUR"));
        assertFalse(Fields.isCurrencyCode("usd"));
        assertFalse(Fields.isCurrencyCode("ZZZ"));
        assertFalse(Fields.isCurrencyCode("US"));
        assertFalse(Fields.isCurrencyCode(null));
    }

    @Test
    void textRefusesControlCharactersAndExcessLength() {
        assertTrue(Fields.isText("Research agent", 20));
        assertFalse(Fields.isText("a\nb", 20));
        assertFalse(Fields.isText("\u0000", 20));
        assertFalse(Fields.isText("x".repeat(21), 20));
    }

    @Test
    void requestIds() {
        assertTrue(Fields.isRequestId("0b6f3c2e-4a7d-4f1e-9c0a-2d1e5f6a7b8c"));
        assertFalse(Fields.isRequestId(""));
        assertFalse(Fields.isRequestId("has space"));
        assertFalse(Fields.isRequestId("x".repeat(129)));
        assertTrue(Fields.isRequestId("x".repeat(128)));
        assertTrue(Fields.isRequestId("A.z_0:9-"));
    }

    /** Every character, in a request id and a currency code, judged as the documented patterns judge it. */
    @Test
    void requestIdsAndCurrencyCodesAcceptExactlyTheirCharacters() {
        java.util.regex.Pattern requestId = java.util.regex.Pattern.compile("[A-Za-z0-9._:-]{1,128}");
        java.util.regex.Pattern currency = java.util.regex.Pattern.compile("[A-Z]{3}");
        for (char c = 0; c < 0x3000; c++) {
            String id = "a" + c + "9";
            assertEquals(requestId.matcher(id).matches(), Fields.isRequestId(id), "request id with U+" + Integer.toHexString(c));
            String code = "U" + c + "D";
            if (!currency.matcher(code).matches()) {
                assertFalse(Fields.isCurrencyCode(code), "currency code with U+" + Integer.toHexString(c));
            }
        }
    }

    @Test
    void labelsAreBounded() {
        assertNull(Fields.labelProblem(Map.of("env", "prod", "cost-center/id", "42")));
        assertNotNull(Fields.labelProblem(Map.of("Env", "prod")));
        assertNotNull(Fields.labelProblem(Map.of("env", "a\tb")));
        Map<String, String> many = new HashMap<>();
        for (int i = 0; i < 33; i++) {
            many.put("k" + i, "v");
        }
        assertNotNull(Fields.labelProblem(many));
    }

    @Test
    void printableNeutralisesControlCharactersAndBoundsLength() {
        assertEquals("a?b", Fields.printable("a\nb"));
        assertEquals(67, Fields.printable("x".repeat(100)).length());
    }
}
